using System.Diagnostics;
using BatchNormExperiments;
using Samples.Common;

const string Usage = """
    BatchNormExperiments: reproduces the normalization survey's claims on Fashion-MNIST with the library's trainers
    (MLP 784-256-256-10, SGD lr 0.01, momentum 0.9; and small convolutional networks), over several seeds, and sets them
    beside PyTorch 1.13 running the same protocol (torch_protocol.py, next to this sample):

      normalizers    None vs BatchNorm vs NoisyBatchNorm vs L1/L2/LInf BatchNorm, batch 64: test accuracy per epoch,
                     training loss per step
      renorm         BatchNorm vs BatchRenorm with non-i.i.d. batches (3 epochs; each batch of 64 holds 32 rows of
                     each of 2 distinct classes, every class consumed at the same rate through the epoch) and with
                     batches of 4 (1 epoch, lr 0.002)
      landscape      None vs BatchNorm: how much the loss and its gradient vary when the weights move along the
                     gradient (Santurkar et al. 2018)
      cnn-batch      the CNN "late-small" (conv 16-32-64-64 on 28², 14², 7² and 3² maps): BatchNorm and GroupNorm at
                     batches 32, 16, 8, 4, 2, LayerNorm and InstanceNorm at 32, lr 0.02 · batch / 32 (Wu & He 2018)
      cnn-renorm     renorm's comparison on late-small: non-i.i.d. batches of 64 (3 epochs, lr 0.04) and batches
                     of 4 (lr 0.0025)
      cnn-landscape  landscape's probes on the CNN "vgg" (conv 16-16, 32-32, dense 128), lr 0.02
      cnn            the three CNN experiments

    Every configuration is trained once per seed; results.md, the printed tables and the claims give every number
    as the mean ± standard deviation over the seeds, and the figures show the means.

    Writes PNG figures and results.md into the output folder and prints the results table.

    Usage: dotnet run --project samples/BatchNormExperiments -c Release -- [options]

    Options:
      --experiments <list>  comma-separated: normalizers,renorm,landscape,cnn-batch,cnn-renorm,cnn-landscape or cnn;
                            default normalizers,renorm,landscape (the CNN experiments take far longer: minutes per
                            seed on a few thousand images)
      --epochs <n>          epochs of every run but renorm's and cnn-renorm's non-i.i.d. ones (3) and renorm's
                            batches of 4 (1), 1..1000; default 5
      --train-count <n>     use the first n training images, 100..60000; default all
      --test-count <n>      use the first n test images, 100..60000; default all
      --output <folder>     where to write the figures and results.md; default ./output
      --data <folder>       a Fashion-MNIST folder (the four original .gz IDX files); default the embedded subset
                            (3000 training / 1000 test images)
      --full                the full data set installed at /usr/share/datasets/fashion-mnist
      --seeds <list>        comma-separated seeds of initialization, batch order and noise, at most 20;
                            default 1,2,3: three seeds give a spread, and on the embedded subset the default run
                            still takes under a minute (about 40 s of CPU); --seeds 1 for one quick run
      --torch <file>        the JSON torch_protocol.py wrote for the same data, --epochs and experiments: fills the
                            PyTorch 1.13 columns; without it they stay empty. It is read after training, so the
                            script may still be running when this run starts. E.g. for the full data:
                              /usr/bin/python3 samples/BatchNormExperiments/torch_protocol.py --full --seeds 1,2,3 --threads 1 --output torch.json
      --help                show this text
    """;

return SampleProgram.Run(Usage, () => ExperimentSettings.Parse(args), settings =>
{
    var watch = Stopwatch.StartNew();
    var data = ExperimentData.Load(settings);
    Directory.CreateDirectory(settings.OutputFolder);
    Console.WriteLine($"Data: {settings.DataName} ({settings.DataFolder}), {data.Train.Rows} training and {data.Test.Rows} test images; {Format.Seeds(settings.Seeds)}");
    Console.WriteLine($"Output folder: {settings.OutputFolder}");
    Console.WriteLine();

    // Every experiment trains first; the PyTorch file is read after training, so torch_protocol.py may run meanwhile.
    var trainers = settings.Seeds.Select(seed => new Trainer(data, settings, seed)).ToList();
    var reports = new List<Func<TorchReference?, ExperimentResult>>();
    foreach (var experiment in settings.Experiments)
    {
        reports.Add(experiment switch
        {
            ExperimentSettings.Normalizers => Measured(NormalizersExperiment.Measure, NormalizersExperiment.Report),
            ExperimentSettings.Renorm => Measured(RenormExperiment.Mlp.Measure, RenormExperiment.Mlp.Report),
            ExperimentSettings.Landscape => Measured(LandscapeExperiment.Mlp.Measure, LandscapeExperiment.Mlp.Report),
            ExperimentSettings.ConvolutionalBatch => Measured(BatchSizeExperiment.Measure, BatchSizeExperiment.Report),
            ExperimentSettings.ConvolutionalRenorm => Measured(RenormExperiment.Convolutional.Measure, RenormExperiment.Convolutional.Report),
            _ => Measured(LandscapeExperiment.Convolutional.Measure, LandscapeExperiment.Convolutional.Report),
        });
        Console.WriteLine();
    }
    var torch = settings.TorchFile is null ? null : TorchReference.Load(settings.TorchFile, settings, data);
    Console.WriteLine(torch is null ? "PyTorch columns: none (--torch not given)"
        : $"PyTorch columns: {torch.Path} (torch {torch.Version}, {Format.Seeds(torch.Seeds)})");
    var results = reports.Select(report => report(torch)).ToList();

    var resultsPath = Path.Combine(settings.OutputFolder, ResultsReport.FileName);
    File.WriteAllText(resultsPath, ResultsReport.Markdown(settings, data, torch, results));
    Console.Write(ResultsReport.Table(results));
    Console.WriteLine();
    Console.Write(ResultsReport.ClaimsTable(results));
    Console.WriteLine();
    var claims = results.SelectMany(r => r.Claims).ToList();
    string torchSummary = torch is null ? "" : $"; PyTorch: {claims.Count(c => c.Torch?.Matches == true)} of {claims.Count(c => c.Torch is not null)}";
    Console.WriteLine($"Library: {claims.Count(c => c.Library.Matches)} of {claims.Count} directions match{torchSummary}. Wrote {resultsPath} and " +
        $"{string.Join(", ", results.SelectMany(r => r.Figures).Select(f => f.FileName))} in {watch.Elapsed.TotalSeconds:F1} s.");
    return 0;

    // Trains every seed now; reports once the PyTorch columns are known.
    Func<TorchReference?, ExperimentResult> Measured<TRuns>(Func<Trainer, TRuns> measure,
        Func<ExperimentSettings, ExperimentData, IReadOnlyList<TRuns>, TorchReference?, ExperimentResult> report)
    {
        var runs = trainers.Select(measure).ToList();
        return torch => report(settings, data, runs, torch);
    }
});
