using System.Numerics.Tensors;

namespace MLNet.Normalization.Training;

/// <summary>
/// Stochastic gradient descent with momentum and weight decay, as <c>torch.optim.SGD</c> (dampening 0, not Nesterov):
/// g = ∇ + λ w; v = μ v + g; w −= lr · v.
/// </summary>
public sealed class SgdOptimizer
{
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly float[][] _velocity;

    /// <summary>Creates the optimizer for <paramref name="parameters"/>.</summary>
    public SgdOptimizer(IReadOnlyList<Parameter> parameters, double learningRate, double momentum = 0, double weightDecay = 0)
    {
        if (!(learningRate > 0) || double.IsInfinity(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, $"The learning rate must be positive and finite, got {learningRate}.");
        if (!(momentum >= 0 && momentum < 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"momentum must be in [0, 1), got {momentum}.");
        if (!(weightDecay >= 0) || double.IsInfinity(weightDecay))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"weightDecay must be finite and not negative, got {weightDecay}.");
        _parameters = parameters;
        _velocity = parameters.Select(p => new float[p.Values.Length]).ToArray();
        LearningRate = learningRate;
        Momentum = momentum;
        WeightDecay = weightDecay;
    }

    /// <summary>The step size lr.</summary>
    public double LearningRate { get; set; }

    /// <summary>μ.</summary>
    public double Momentum { get; }

    /// <summary>λ.</summary>
    public double WeightDecay { get; }

    /// <summary>Updates every parameter from its gradient.</summary>
    public void Step()
    {
        float lr = (float)LearningRate, mu = (float)Momentum, decay = (float)WeightDecay;
        for (int p = 0; p < _parameters.Count; p++)
        {
            var values = _parameters[p].Values;
            var gradient = _parameters[p].Gradient;
            var velocity = _velocity[p];
            if (decay == 0)
            {
                // v = μ · v + g, w = w − lr · v: the same two roundings per value as the loop below, in vectors.
                TensorPrimitives.MultiplyAdd(velocity, mu, gradient, velocity);
                TensorPrimitives.MultiplyAdd(velocity, -lr, values, values);
                continue;
            }
            for (int i = 0; i < values.Length; i++)
            {
                float g = gradient[i] + decay * values[i];
                velocity[i] = mu * velocity[i] + g;
                values[i] -= lr * velocity[i];
            }
        }
    }
}
