namespace MLNet.Normalization.Training;

/// <summary>Rows of features with a class label each, row-major.</summary>
/// <param name="Features">Rows × FeatureCount values.</param>
/// <param name="Labels">One class in 0..Classes−1 per row.</param>
/// <param name="FeatureCount">Values per row.</param>
/// <param name="Classes">The number of classes.</param>
public sealed record LabeledData(float[] Features, int[] Labels, int FeatureCount, int Classes)
{
    /// <summary>The number of rows.</summary>
    public int Rows => Labels.Length;

    internal void Validate(string name)
    {
        if (FeatureCount <= 0 || FeatureCount > ModelLimits.MaxParameterLength)
            throw new ArgumentOutOfRangeException(name, FeatureCount,
                $"{name}.FeatureCount must be 1 to {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength), got {FeatureCount}.");
        if (Classes < 2 || Classes > ModelLimits.MaxParameterLength)
            throw new ArgumentOutOfRangeException(name, Classes,
                $"{name}.Classes must be 2 to {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength): a classifier needs at least 2 classes, got {Classes}.");
        if (Features.Length != (long)Rows * FeatureCount)
            throw new ArgumentException($"{name} has {Features.Length} feature values for {Rows} rows of {FeatureCount}.", name);
        for (int n = 0; n < Rows; n++)
        {
            if ((uint)Labels[n] >= (uint)Classes)
                throw new ArgumentException($"{name} row {n} has label {Labels[n]}, not a class in 0..{Classes - 1}.", name);
            var row = Features.AsSpan(n * FeatureCount, FeatureCount);
            int slot = Kernels.NonFinite.IndexOf(row);
            if (slot >= 0)
                throw new ArgumentException($"{name} row {n} has the non-finite feature {row[slot]} at slot {slot}.", name);
        }
    }
}
