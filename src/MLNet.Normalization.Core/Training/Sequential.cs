namespace MLNet.Normalization.Training;

/// <summary>
/// Layers applied in order, as <c>torch.nn.Sequential</c>. Activation and gradient buffers grow to the largest batch
/// and are reused, so a training loop allocates nothing per step. Each layer keeps a reference to the training
/// activation it was given, not a copy; inference writes other buffers, so it leaves a pending backward intact.
/// </summary>
public sealed class Sequential
{
    private readonly Layer[] _layers;
    private readonly float[][] _activations;
    private readonly float[][] _inferenceActivations;
    private readonly float[][] _gradients;
    private int _trainedRows;

    /// <summary>
    /// Chains <paramref name="layers"/>, at most <see cref="ModelLimits.MaxLayers"/> holding at most
    /// <see cref="ModelLimits.MaxNetworkParameters"/> learned values; each layer's input size must be the previous
    /// layer's output size.
    /// </summary>
    public Sequential(IEnumerable<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        _layers = layers.ToArray();
        if (_layers.Length == 0)
            throw new ArgumentException("A network needs at least one layer.", nameof(layers));
        Guard.CheckLayerCount(_layers.Length, nameof(layers));
        for (int i = 1; i < _layers.Length; i++)
            if (_layers[i].InputFeatures != _layers[i - 1].OutputFeatures)
                throw new ArgumentException($"Layer {i} ({_layers[i].GetType().Name}) takes {_layers[i].InputFeatures} values, but layer {i - 1} gives {_layers[i - 1].OutputFeatures}.", nameof(layers));
        _activations = new float[_layers.Length][];
        _inferenceActivations = new float[_layers.Length][];
        _gradients = new float[_layers.Length][];
        Array.Fill(_activations, []);
        Array.Fill(_inferenceActivations, []);
        Array.Fill(_gradients, []);
        Parameters = _layers.SelectMany(l => l.Parameters).ToArray();
        Guard.CheckNetworkParameters(Parameters.Sum(p => (long)p.Values.Length), nameof(layers));
    }

    /// <summary>The layers, first to last.</summary>
    public IReadOnlyList<Layer> Layers => _layers;

    /// <summary>Values per input row.</summary>
    public int InputFeatures => _layers[0].InputFeatures;

    /// <summary>Values per output row.</summary>
    public int OutputFeatures => _layers[^1].OutputFeatures;

    /// <summary>Every layer's learned tensors.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Runs the batch through every layer; the result stays valid until the next call.</summary>
    public ReadOnlySpan<float> Forward(ReadOnlySpan<float> input, int rows, bool training)
    {
        var activations = training ? _activations : _inferenceActivations;
        // The first layer copies the caller's input if it keeps it; the others keep this network's buffers, which
        // nothing writes until the next forward of the same mode.
        var output = Buffer(activations, 0, rows * _layers[0].OutputFeatures);
        _layers[0].Forward(input, output, rows, training);
        for (int i = 1; i < _layers.Length; i++)
        {
            var previous = activations[i - 1].AsMemory(0, rows * _layers[i].InputFeatures);
            output = Buffer(activations, i, rows * _layers[i].OutputFeatures);
            _layers[i].ForwardKeepingReference(previous, output, rows, training);
        }
        if (training)
            _trainedRows = rows;
        return output;
    }

    /// <summary>Back-propagates dL/doutput of the last training <see cref="Forward"/>, accumulating every parameter's gradient.</summary>
    public void Backward(ReadOnlySpan<float> outputGradient)
    {
        if (_trainedRows == 0)
            throw new InvalidOperationException("Backward needs a training Forward first.");
        var current = outputGradient;
        for (int i = _layers.Length - 1; i >= 1; i--)
        {
            var inputGradient = Buffer(_gradients, i, _trainedRows * _layers[i].InputFeatures);
            _layers[i].Backward(current, inputGradient);
            current = inputGradient;
        }
        // Nothing reads dL/dinput of the network's input.
        if (_layers[0].CanSkipInputGradient)
            _layers[0].BackwardWithoutInputGradient(current);
        else
            _layers[0].Backward(current, Buffer(_gradients, 0, _trainedRows * _layers[0].InputFeatures));
    }

    /// <summary>
    /// The inference network with every normalization layer whose inference is a per-channel affine map
    /// y = x · scale + shift (batch norm, batch renorm, noisy and ℓp batch norm) folded into the Linear or Conv2d layer
    /// before it: W'[o, …] = W[o, …] · scale[o], b'[o] = b[o] · scale[o] + shift[o] — for batch norm, W γ/σ and
    /// (b − μ) γ/σ + β. Other layers are shared with this network, so use the result for inference only.
    /// </summary>
    public Sequential Fold()
    {
        var folded = new List<Layer>();
        for (int i = 0; i < _layers.Length; i++)
        {
            if (i + 1 < _layers.Length && _layers[i + 1] is NormalizationLayer normalization && TryFold(_layers[i], normalization) is { } foldedLayer)
            {
                folded.Add(foldedLayer);
                i++;
                continue;
            }
            folded.Add(_layers[i]);
        }
        return new Sequential(folded);
    }

    /// <summary>The Linear or Conv2d layer with the normalization after it folded in, or null when it does not fold.</summary>
    private static Layer? TryFold(Layer layer, NormalizationLayer normalization)
    {
        var (outputs, spatial) = layer switch
        {
            LinearLayer linear => (linear.OutputFeatures, 1),
            Conv2dLayer convolution => (convolution.OutChannels, convolution.Output.Spatial),
            _ => (0, 0),
        };
        if (outputs == 0 || normalization.Channels != outputs || normalization.SpatialSize != spatial)
            return null;
        var scale = new float[outputs];
        var shift = new float[outputs];
        if (!normalization.TryGetInferenceAffine(scale, shift))
            return null;
        float[] weight, bias = new float[outputs];
        if (layer is LinearLayer l)
        {
            weight = (float[])l.Weight.Clone();
            ScaleRows(weight, l.Bias, scale, shift, bias);
            return new LinearLayer(l.InputFeatures, l.OutputFeatures, weight, bias);
        }
        var c = (Conv2dLayer)layer;
        weight = (float[])c.Weight.Clone();
        ScaleRows(weight, c.HasBias ? c.Bias : new float[outputs], scale, shift, bias);
        return new Conv2dLayer(c.Input, c.OutChannels, c.KernelSize, c.Stride, c.Padding, weight, bias);
    }

    /// <summary>Row o of <paramref name="weight"/> (one output's weights) times scale[o]; bias'[o] = bias[o] · scale[o] + shift[o].</summary>
    private static void ScaleRows(float[] weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, Span<float> foldedBias)
    {
        int rowLength = weight.Length / scale.Length;
        for (int o = 0; o < scale.Length; o++)
        {
            var row = weight.AsSpan(o * rowLength, rowLength);
            System.Numerics.Tensors.TensorPrimitives.Multiply(row, scale[o], row);
            foldedBias[o] = bias[o] * scale[o] + shift[o];
        }
    }

    /// <summary>Sets every gradient to 0.</summary>
    public void ZeroGradients()
    {
        foreach (var layer in _layers)
            layer.ZeroGradients();
    }

    private static Span<float> Buffer(float[][] buffers, int index, int length)
    {
        if (buffers[index].Length < length)
            buffers[index] = new float[length];
        return buffers[index].AsSpan(0, length);
    }
}
