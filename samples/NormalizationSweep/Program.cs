using System.Diagnostics;
using Microsoft.ML;
using NormalizationSweep;
using Samples.Common;

const string Usage = """
    NormalizationSweep: an AutoML-style search over normalizers and trainers. For an image task (Fashion-MNIST pixel
    vectors) and a tabular task (UCI Wine), cross-validates every pipeline of the grid

      normalizer  None | NormalizeMeanVariance (ML.NET) | NormalizeChannels (image) or LayerNorm (tabular)
      trainer     SdcaMaximumEntropy | LightGbm | MultilayerPerceptron | MultilayerPerceptron with BatchNorm

    on the same folds, prints a leaderboard per task (micro-accuracy, std over folds, train time per fold), then
    refits each task's best pipeline on all its cross-validation rows, evaluates it on held-out rows, saves it as
    <task>-best.zip and checks that the reloaded model predicts the same.

    Usage: dotnet run --project samples/NormalizationSweep -c Release -- [options]

    Options:
      --tasks <list>        comma-separated: image,tabular; default both
      --trainers <list>     comma-separated: sdca,lightgbm,mlp,mlp-batchnorm; default all four
      --folds <n>           cross-validation folds, 2..20; default 5
      --epochs <n>          epochs of every MultilayerPerceptron fit, 1..1000; default 5
      --train-count <n>     use the first n Fashion-MNIST training images, 100..60000; default all
      --test-count <n>      use the first n Fashion-MNIST test images, 100..60000; default all
      --output <folder>     where to write leaderboard.md, leaderboard.csv and the best models; default ./output
      --data <folder>       a Fashion-MNIST folder (the four original .gz IDX files); default the embedded subset
                            (3000 training / 1000 test images)
      --full                the full data set installed at /usr/share/datasets/fashion-mnist
      --seed <n>            seed of the splits, the folds and every trainer; default 1
      --help                show this text

    The tabular task uses samples/data/wine/wine.csv (178 wines): about 80 % cross-validated, 20 % held out.
    """;

return SampleProgram.Run(Usage, () => SweepSettings.Parse(args), settings =>
{
    var watch = Stopwatch.StartNew();
    Directory.CreateDirectory(settings.OutputFolder);
    var ml = new MLContext(settings.Seed);
    var tasks = settings.Tasks.Select(name => SweepTask.Load(ml, name, settings)).ToList();
    foreach (var task in tasks)
        Console.WriteLine($"Task {task.Name}: {task.Description}; {task.ClassNames.Count} classes; " +
            $"{task.TrainRows} rows cross-validated, {task.TestRows} held out");
    Console.WriteLine($"Grid: {settings.Folds}-fold cross-validation of {tasks.Sum(t => t.Normalizers.Count) * settings.Trainers.Count} pipelines, " +
        $"MLP {settings.Epochs} epoch(s), seed {settings.Seed}");
    Console.WriteLine($"Output folder: {settings.OutputFolder}");

    var results = new List<PipelineResult>();
    foreach (var task in tasks)
    {
        Console.WriteLine();
        var crossValidation = CrossValidation.For(task, settings, pipelineCount: task.Normalizers.Count * settings.Trainers.Count);
        foreach (var normalizer in task.Normalizers)
            foreach (var trainer in settings.Trainers)
                results.Add(crossValidation.Run(normalizer, trainer));
    }

    var best = new List<BestPipelineResult>();
    foreach (var task in tasks)
    {
        var ranked = Leaderboard.Ranked(results.Where(r => r.Task == task.Name));
        Console.WriteLine();
        Console.WriteLine($"Leaderboard, {task.Name} ({task.TrainRows} rows, {settings.Folds} folds):");
        Console.Write(Leaderboard.Table(ranked));
        Console.WriteLine();
        best.Add(BestPipeline.RefitTestAndSave(task, ranked[0], settings));
    }

    var markdownPath = Path.Combine(settings.OutputFolder, Leaderboard.MarkdownFileName);
    var csvPath = Path.Combine(settings.OutputFolder, Leaderboard.CsvFileName);
    File.WriteAllText(markdownPath, Leaderboard.Markdown(settings, tasks, results, best));
    File.WriteAllText(csvPath, Leaderboard.Csv(tasks, results));
    Console.WriteLine();
    Console.WriteLine($"Wrote {markdownPath}, {csvPath} and {string.Join(", ", best.Select(b => Path.GetFileName(b.ModelPath)))} " +
        $"in {watch.Elapsed.TotalSeconds:F1} s.");
    return best.All(b => b.ReloadedMatches) ? 0 : 1;
});
