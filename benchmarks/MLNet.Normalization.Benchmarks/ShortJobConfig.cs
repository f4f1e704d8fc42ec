using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// One short in-process job for every class, so the whole suite runs in minutes on a 2-core machine: 2 warmup and
/// 5 measured iterations of about 250 ms each. Ratios are only compared within one class, against its baseline,
/// measured in the same process and run. Results are exported as JSON (read by benchmarks/report.py), CSV and markdown.
/// </summary>
public sealed class ShortJobConfig : ManualConfig
{
    public ShortJobConfig()
    {
        AddJob(Job.Default
            .WithToolchain(new InProcessEmitToolchain(TimeSpan.FromMinutes(15), logOutput: true))
            .WithLaunchCount(1)
            .WithWarmupCount(2)
            .WithIterationCount(5)
            .WithIterationTime(TimeInterval.FromMilliseconds(250))
            .WithId("Short"));
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumnProvider(DefaultColumnProviders.Instance);
        AddColumn(StatisticColumn.Median);
        AddLogger(ConsoleLogger.Default);
        AddExporter(JsonExporter.Full, CsvExporter.Default, MarkdownExporter.GitHub);
        WithOptions(ConfigOptions.JoinSummary);
    }
}
