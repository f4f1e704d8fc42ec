using BenchmarkDotNet.Running;
using MLNet.Normalization.Benchmarks;

// dotnet benchmarks/MLNet.Normalization.Benchmarks/bin/Release/net10.0/MLNet.Normalization.Benchmarks.dll --filter '*'
// benchmarks/run.sh runs every class and joins the results with the PyTorch reference into BENCHMARKS.md.
// --fit-meanvariance fits (or finds) ML.NET's NormalizeMeanVariance model that CursorBenchmarks reads, outside the timed run.
if (args is ["--fit-meanvariance"])
{
    MeanVarianceModel.LoadOrFit();
    return;
}
// --mlp-epoch <folder> [repeats] times one Fashion-MNIST training epoch per normalization (see MlpEpoch).
if (args is ["--mlp-epoch", var folder, ..])
{
    MlpEpoch.Run(folder, args.Length > 2 ? int.Parse(args[2]) : 3);
    return;
}
// --cnn-epoch <folder> [repeats] times one Fashion-MNIST epoch of the convolutional network per normalization (see CnnEpoch).
if (args is ["--cnn-epoch", var cnnFolder, ..])
{
    CnnEpoch.Run(cnnFolder, args.Length > 2 ? int.Parse(args[2]) : 3);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(ShortJobConfig).Assembly).Run(args, new ShortJobConfig());
