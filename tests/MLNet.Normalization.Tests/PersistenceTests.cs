using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Tests;

/// <summary>Save, load (in this process and in a fresh one), PredictionEngine, schema propagation.</summary>
public class PersistenceTests
{
    private static readonly int[] Shape = [3, 4, 5];

    private static float[][] Rows(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, 60).Select(_ => (float)random.Next(256)).ToArray()).ToArray();
    }

    /// <summary>Every transform of the library in one pipeline, the channel statistics fitted.</summary>
    private static IEstimator<ITransformer> EveryTransform(MLContext ml) =>
        ml.Transforms.NormalizeChannels("Fitted", TestData.Column)
            .Append(ml.Transforms.ScalePixels("Scaled", TestData.Column, PixelRange.MinusOneToOne))
            .Append(ml.Transforms.PreprocessImageNet("Caffe", TestData.Column, ImageNetPreprocessing.Caffe))
            .Append(ml.Transforms.DenormalizeImageNet("Restored", "Caffe", ImageNetPreprocessing.Caffe))
            .Append(ml.Transforms.BatchNorm("BatchNorm", "Fitted", new BatchNormOptions { BatchSize = 4, Gamma = [0.5f, 1f, 2f] }))
            .Append(ml.Transforms.BatchNorm("GivenBatchNorm", TestData.Column, BatchNormParameters.FromOnnx([1f, 2f, 3f], [0f, 1f, -1f], [100f, 120f, 140f], [900f, 1000f, 1100f])))
            .Append(ml.Transforms.LayerNorm("LayerNorm", "Fitted", normalizedDimensions: 2))
            .Append(ml.Transforms.InstanceNorm("InstanceNorm", "Fitted", gamma: [1f, 2f, 3f], beta: [0f, 0.5f, 1f]))
            .Append(ml.Transforms.GroupNorm("GroupNorm", "Fitted", groups: 3, layout: ChannelLayout.ChannelsFirst));

    private static readonly string[] OutputColumns = ["Fitted", "Scaled", "Caffe", "Restored", "BatchNorm", "GivenBatchNorm", "LayerNorm", "InstanceNorm", "GroupNorm"];

    [Fact]
    public void SavedModelLoadedInANewContextGivesIdenticalOutput()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Vectors(ml, Rows(20, 1), Shape);
        var model = EveryTransform(ml).Fit(data);
        var expected = OutputColumns.Select(c => TestData.Read(model.Transform(data), c)).ToArray();

        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var fresh = new MLContext(seed: 2);
        var loaded = fresh.Model.Load(stream, out var inputSchema);

        Assert.Equal(data.Schema[TestData.Column].Type, inputSchema[TestData.Column].Type);
        var output = loaded.Transform(TestData.Vectors(fresh, Rows(20, 1), Shape));
        for (int i = 0; i < OutputColumns.Length; i++)
            Assert.Equal(expected[i], TestData.Read(output, OutputColumns[i]));
    }

    [Fact]
    public void ModelLoadsInAFreshProcessThatHasNotLoadedTheLibrary()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Vectors(ml, Rows(7, 3), Shape);
        var model = EveryTransform(ml).Fit(data);
        var transformed = model.Transform(data);
        var expected = OutputColumns.SelectMany(c => TestData.Read(transformed, c).Select(row => (c, row))).ToArray();

        var folder = Directory.CreateTempSubdirectory("mlnet-normalization-");
        try
        {
            string modelPath = Path.Combine(folder.FullName, "model.zip");
            string dataPath = Path.Combine(folder.FullName, "data.idv");
            ml.Model.Save(model, data.Schema, modelPath);
            using (var file = File.Create(dataPath))
                ml.Data.SaveAsBinary(data, file);

            var lines = ModelLoadProbe.Run(modelPath, dataPath, string.Join(',', OutputColumns));

            Assert.StartsWith("library-loaded-before-model: False; after: True", lines[0]);
            var rows = lines.Skip(1).Select(l => l.Split(": ")).Select(p => (p[0], p[1].Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray())).ToArray();
            Assert.Equal(expected.Length, rows.Length);
            for (int i = 0; i < rows.Length; i++)
            {
                Assert.Equal(expected[i].c, rows[i].Item1);
                Assert.Equal(expected[i].row, rows[i].Item2);
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private sealed class ImageRow
    {
        [VectorType(3, 4, 5)]
        public float[] Pixels { get; set; } = [];
    }

    private sealed class NormalizedRow
    {
        [VectorType(3, 4, 5)]
        public float[] Fitted { get; set; } = [];
    }

    [Fact]
    public void PredictionEngineNormalizesOneRowLikeTheBatchTransform()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(10, 5);
        var data = ml.Data.LoadFromEnumerable(rows.Select(r => new ImageRow { Pixels = r }));
        var model = ml.Transforms.NormalizeChannels("Fitted", TestData.Column).Fit(data);

        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var loaded = new MLContext(seed: 3).Model.Load(stream, out _);
        var engine = ml.Model.CreatePredictionEngine<ImageRow, NormalizedRow>(loaded);
        var single = engine.Predict(new ImageRow { Pixels = rows[4] }).Fitted;

        // (x / 255 − mean[c]) / std[c] with the fitted statistics, in double.
        var stats = model.Statistics;
        var expected = rows[4].Select((x, i) => (x / 255.0 - stats.Mean[i / 20]) / stats.Std[i / 20]).ToArray();
        TestData.AssertClose(expected, single, 1e-5, 1e-6, "prediction engine");
        Assert.Equal(TestData.Read(model.Transform(data), "Fitted")[4], single);
    }

    private sealed class BatchNormRow
    {
        [VectorType(3, 4, 5)]
        public float[] BatchNorm { get; set; } = [];
    }

    [Fact]
    public void PredictionEngineAppliesLoadedBatchNorm()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(10, 6);
        var data = ml.Data.LoadFromEnumerable(rows.Select(r => new ImageRow { Pixels = r }));
        float[] mean = [100, 120, 140], variance = [900, 1000, 1100], gamma = [1, 2, 3], beta = [0, 1, -1];
        var model = ml.Transforms.BatchNorm("BatchNorm", TestData.Column, new BatchNormParameters(mean, variance, gamma, beta)).Fit(data);

        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var engine = ml.Model.CreatePredictionEngine<ImageRow, BatchNormRow>(new MLContext(seed: 4).Model.Load(stream, out _));
        var single = engine.Predict(new ImageRow { Pixels = rows[2] }).BatchNorm;

        // γ (x − mean) / √(var + 1e-5) + β per channel, in double.
        var expected = rows[2].Select((x, i) => gamma[i / 20] * (x - mean[i / 20]) / Math.Sqrt(variance[i / 20] + 1e-5) + beta[i / 20]).ToArray();
        TestData.AssertClose(expected, single, 1e-5, 1e-6, "batch norm prediction engine");
    }

    [Fact]
    public void OutputKeepsDimensionsAndSlotNamesAndIsMarkedNormalized()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Vectors(ml, Rows(3, 7), Shape);
        var slotNames = Enumerable.Range(0, 60).Select(i => $"p{i}".AsMemory()).ToArray();
        var annotated = ml.Transforms.CopyColumns(TestData.Column, TestData.Column).Fit(data).Transform(data);
        var builder = new DataViewSchema.Annotations.Builder();
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> getSlotNames = (ref VBuffer<ReadOnlyMemory<char>> names) => names = new VBuffer<ReadOnlyMemory<char>>(60, slotNames);
        builder.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, 60), getSlotNames);
        var schemaBuilder = new DataViewSchema.Builder();
        schemaBuilder.AddColumn(TestData.Column, new VectorDataViewType(NumberDataViewType.Single, Shape), builder.ToAnnotations());
        var withSlots = new AnnotatedView(annotated, schemaBuilder.ToSchema());

        var estimator = ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet);
        // SchemaShape.Create is internal to ML.NET; pipelines call it the same way.
        var inputShape = (SchemaShape)typeof(SchemaShape).GetMethod("Create", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)!.Invoke(null, [withSlots.Schema])!;
        var shape = estimator.GetOutputSchema(inputShape);
        var output = estimator.Fit(withSlots).Transform(withSlots).Schema["Out"];

        var shapeColumn = shape.Single(c => c.Name == "Out");
        Assert.Contains(shapeColumn.Annotations, a => a.Name == "IsNormalized");
        Assert.Contains(shapeColumn.Annotations, a => a.Name == "SlotNames");
        Assert.Equal(Shape, ((VectorDataViewType)output.Type).Dimensions.ToArray());
        Assert.True(output.IsNormalized());
        var names = default(VBuffer<ReadOnlyMemory<char>>);
        output.GetSlotNames(ref names);
        Assert.Equal("p17", names.GetItemOrDefault(17).ToString());
    }

    /// <summary>A view of <paramref name="inner"/> under a schema with the same columns but more annotations.</summary>
    private sealed class AnnotatedView(IDataView inner, DataViewSchema schema) : IDataView
    {
        public bool CanShuffle => inner.CanShuffle;
        public DataViewSchema Schema => schema;
        public long? GetRowCount() => inner.GetRowCount();
        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
            => new Cursor(inner.GetRowCursor(inner.Schema, rand), schema);
        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
            => [GetRowCursor(columnsNeeded, rand)];

        private sealed class Cursor(DataViewRowCursor inner, DataViewSchema schema) : DataViewRowCursor
        {
            public override DataViewSchema Schema => schema;
            public override long Position => inner.Position;
            public override long Batch => inner.Batch;
            public override bool MoveNext() => inner.MoveNext();
            public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();
            public override bool IsColumnActive(DataViewSchema.Column column) => true;
            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => inner.GetGetter<TValue>(inner.Schema[column.Index]);
            protected override void Dispose(bool disposing)
            {
                if (disposing)
                    inner.Dispose();
                base.Dispose(disposing);
            }
        }
    }

    [Fact]
    public void TruncatedModelFileThrows()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Vectors(ml, Rows(5, 9), Shape);
        using var stream = new MemoryStream();
        ml.Model.Save(EveryTransform(ml).Fit(data), data.Schema, stream);
        var bytes = stream.ToArray();

        var truncated = new MemoryStream(bytes[..(bytes.Length / 2)]);

        Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(truncated, out _));
    }

    [Fact]
    public void CorruptParametersInAModelFileThrowAFormatError()
    {
        // A format-1 file has no checksum: its parameters are still checked as they are read. Overwrite the first
        // std value (ImageNet's 0.229f) with −1 inside the transformer's model entry.
        var corrupt = new MemoryStream();
        using (var fixture = File.OpenRead(Path.Combine(AppContext.BaseDirectory, "Fixtures", "format-1", "normalize-channels-given.zip")))
            fixture.CopyTo(corrupt);
        int replaced = 0;
        using (var zip = new ZipArchive(corrupt, ZipArchiveMode.Update, leaveOpen: true))
        {
            foreach (var entry in zip.Entries.Where(e => e.FullName.EndsWith("Model.key", StringComparison.Ordinal)).ToList())
            {
                byte[] content;
                using (var read = entry.Open())
                using (var copy = new MemoryStream())
                {
                    read.CopyTo(copy);
                    content = copy.ToArray();
                }
                int at = content.AsSpan().IndexOf(BitConverter.GetBytes(0.229f));
                if (at < 0)
                    continue;
                BitConverter.GetBytes(-1f).CopyTo(content, at);
                var name = entry.FullName;
                entry.Delete();
                using var write = zip.CreateEntry(name).Open();
                write.Write(content);
                replaced++;
            }
        }
        Assert.Equal(1, replaced);
        corrupt.Position = 0;

        var error = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(corrupt, out _));
        Assert.Contains("std[0] must be positive", error.ToString());
    }
}
