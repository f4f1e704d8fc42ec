namespace MLNet.Normalization.Training;

/// <summary>
/// How Batch Renormalization relaxes its clipping (Ioffe 2017): rmax = 1 and dmax = 0 (plain batch norm) for
/// <see cref="WarmupSteps"/> steps, then both grow linearly, rmax to <see cref="FinalRMax"/> at step
/// <see cref="RMaxSteps"/> and dmax to <see cref="FinalDMax"/> at step <see cref="DMaxSteps"/>.
/// The defaults are the paper's: 5k steps of plain BN, rmax → 3 by 40k steps, dmax → 5 by 25k steps.
/// </summary>
public sealed record RenormSchedule(long WarmupSteps = 5_000, double FinalRMax = 3, long RMaxSteps = 40_000, double FinalDMax = 5, long DMaxSteps = 25_000)
{
    /// <summary>No warm-up or relaxation: the final limits from the first step.</summary>
    public static RenormSchedule Constant(double rMax, double dMax) => new(0, rMax, 0, dMax, 0);

    /// <summary>rmax at a training step (0-based).</summary>
    public double RMax(long step) => Relax(step, 1, FinalRMax, RMaxSteps);

    /// <summary>dmax at a training step (0-based).</summary>
    public double DMax(long step) => Relax(step, 0, FinalDMax, DMaxSteps);

    /// <summary>Throws when the schedule is not one; <paramref name="owner"/>, when given, is the option that holds it and leads each message.</summary>
    internal void Validate(string? owner = null)
    {
        string lead = owner is null ? "" : owner + ": ";
        if (WarmupSteps < 0 || RMaxSteps < WarmupSteps || DMaxSteps < WarmupSteps)
            throw new ArgumentOutOfRangeException(owner ?? nameof(WarmupSteps), owner is null
                ? $"Need 0 ≤ WarmupSteps ≤ RMaxSteps and DMaxSteps, got {WarmupSteps}, {RMaxSteps}, {DMaxSteps}."
                : $"{owner} needs 0 ≤ WarmupSteps ≤ RMaxSteps and DMaxSteps, got {WarmupSteps}, {RMaxSteps}, {DMaxSteps}.");
        if (!(FinalRMax >= 1) || double.IsPositiveInfinity(FinalRMax))
            throw new ArgumentOutOfRangeException(owner ?? nameof(FinalRMax), FinalRMax, $"{lead}FinalRMax must be finite and at least 1, got {FinalRMax}.");
        if (!(FinalDMax >= 0) || double.IsPositiveInfinity(FinalDMax))
            throw new ArgumentOutOfRangeException(owner ?? nameof(FinalDMax), FinalDMax, $"{lead}FinalDMax must be finite and not negative, got {FinalDMax}.");
    }

    private double Relax(long step, double initial, double final, long finalStep)
    {
        if (step < WarmupSteps)
            return initial;
        if (step >= finalStep)
            return final;
        return initial + (final - initial) * (step - WarmupSteps) / (finalStep - WarmupSteps);
    }
}
