using System.Diagnostics;
using BatchNormExperiments;
using Samples.Common;

const string Usage = """
    BatchNormExperiments: reproduces the normalization survey's claims on Fashion-MNIST with the library's trainer
    (MLP 784-256-256-10, SGD lr 0.01, momentum 0.9, fixed seeds), and compares their directions with PyTorch 1.13:

      normalizers  None vs BatchNorm vs NoisyBatchNorm vs L1/L2/LInf BatchNorm, batch 64: test accuracy per epoch,
                   training loss per step
      renorm       BatchNorm vs BatchRenorm with non-i.i.d. batches (2 classes per batch of 64, 3 epochs) and with
                   batches of 4 (1 epoch, lr 0.002)
      landscape    None vs BatchNorm: how much the loss varies when the weights move along the gradient
                   (Santurkar et al. 2018)

    Writes PNG figures and results.md into the output folder and prints the results table.

    Usage: dotnet run --project samples/BatchNormExperiments -c Release -- [options]

    Options:
      --experiments <list>  comma-separated: normalizers,renorm,landscape; default all three
      --epochs <n>          epochs of the normalizers and landscape runs, 1..1000; default 5
                            (renorm's epochs are fixed: 3 non-i.i.d., 1 with batches of 4)
      --train-count <n>     use the first n training images, 100..60000; default all
      --test-count <n>      use the first n test images, 100..60000; default all
      --output <folder>     where to write the figures and results.md; default ./output
      --data <folder>       a Fashion-MNIST folder (the four original .gz IDX files); default the embedded subset
                            (3000 training / 1000 test images)
      --full                the full data set installed at /usr/share/datasets/fashion-mnist
      --seed <n>            seed of initialization, batch order and noise; default 1
      --help                show this text
    """;

return SampleProgram.Run(Usage, () => ExperimentSettings.Parse(args), settings =>
{
    var watch = Stopwatch.StartNew();
    var data = ExperimentData.Load(settings);
    Directory.CreateDirectory(settings.OutputFolder);
    Console.WriteLine($"Data: {settings.DataName} ({settings.DataFolder}), {data.Train.Rows} training and {data.Test.Rows} test images");
    Console.WriteLine($"Output folder: {settings.OutputFolder}");
    Console.WriteLine();

    var trainer = new Trainer(data, settings);
    var results = new List<ExperimentResult>();
    foreach (var experiment in settings.Experiments)
    {
        results.Add(experiment switch
        {
            ExperimentSettings.Normalizers => NormalizersExperiment.Run(trainer),
            ExperimentSettings.Renorm => RenormExperiment.Run(trainer),
            _ => LandscapeExperiment.Run(trainer),
        });
        Console.WriteLine();
    }

    var resultsPath = Path.Combine(settings.OutputFolder, ResultsReport.FileName);
    File.WriteAllText(resultsPath, ResultsReport.Markdown(settings, data, results));
    Console.Write(ResultsReport.Table(results));
    Console.WriteLine();
    Console.Write(ResultsReport.ClaimsTable(results));
    Console.WriteLine();
    int matching = results.Sum(r => r.Claims.Count(c => c.Matches)), claims = results.Sum(r => r.Claims.Count);
    Console.WriteLine($"{matching} of {claims} directions match. Wrote {resultsPath} and " +
        $"{string.Join(", ", results.SelectMany(r => r.Figures).Select(f => f.FileName))} in {watch.Elapsed.TotalSeconds:F1} s.");
    return 0;
});
