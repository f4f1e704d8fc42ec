using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// What the MLP trainer and <see cref="MultilayerPerceptronTraining.Train"/> refuse, and how they say it: feature rows of
/// another length, a label of one class, undefined or out-of-range options (when the catalog creates the trainer and
/// again at training), settings whose epochs would make no step, and networks past <see cref="ModelLimits"/>.
/// </summary>
public class MultilayerPerceptronInputTests
{
    private static MultilayerPerceptronTrainer.Options Small() => new() { HiddenLayers = [4], BatchSize = 4, Epochs = 1 };

    private static MultilayerPerceptronTrainer Trainer(MLContext ml, MultilayerPerceptronTrainer.Options options)
        => ml.MulticlassClassification.Trainers.MultilayerPerceptron(options);

    private static string Messages(Exception? e)
    {
        var messages = new List<string>();
        for (; e is not null; e = e.InnerException)
            messages.Add(e.Message);
        return string.Join(" | ", messages);
    }

    // *** Rows of varying length ***

    [Fact]
    public void AFeatureRowOfAnotherLengthNamesTheColumnTheRowAndBothLengths()
    {
        var ml = new MLContext(seed: 1);
        var rows = MlpData.Blobs(20, 6, 2, seed: 1);
        // One row a slot short and a later one a slot long: together they still fill 20 rows of 6.
        rows[5] = (rows[5].Features[..5], rows[5].Class);
        rows[9] = ([.. rows[9].Features, 1f], rows[9].Class);
        var data = MlpData.View(ml, rows, 2, new VectorDataViewType(NumberDataViewType.Single, 6));

        var error = Assert.Throws<InvalidOperationException>(() => Trainer(ml, Small()).Fit(data));
        Assert.Contains("Column 'Features': training row 5 has 5 values, expected 6", error.Message);
    }

    [Fact]
    public void AValidationRowOfAnotherLengthIsRefusedToo()
    {
        var ml = new MLContext(seed: 1);
        var rows = MlpData.Blobs(12, 6, 2, seed: 2);
        rows[3] = (rows[3].Features[..5], rows[3].Class);
        rows[4] = ([.. rows[4].Features, 1f], rows[4].Class);
        var train = MlpData.View(ml, MlpData.Blobs(20, 6, 2, seed: 1), 2);
        var validation = MlpData.View(ml, rows, 2, new VectorDataViewType(NumberDataViewType.Single, 6));

        var error = Assert.Throws<InvalidOperationException>(() => Trainer(ml, Small()).Fit(train, validation));
        Assert.Contains("Column 'Features': validation row 3 has 5 values, expected 6", error.Message);
    }

    [Fact]
    public void ValidationDataOfAnotherWidthIsRefusedNamingItsFeatureColumnAndBothTypes()
    {
        var ml = new MLContext(seed: 1);
        var train = MlpData.View(ml, MlpData.Blobs(20, 4, 2, seed: 1), 2);
        var validation = MlpData.View(ml, MlpData.Blobs(8, 5, 2, seed: 2), 2);

        var error = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, Small()).Fit(train, validation));
        Assert.Contains("Schema mismatch for feature column 'Features': expected Vector<Single, 4> as in the training data, got Vector<Single, 5>", error.Message);
    }

    [Fact]
    public void ValidationDataOfAnotherClassCountIsRefusedNamingItsLabelColumnAndBothTypes()
    {
        var ml = new MLContext(seed: 1);
        var train = MlpData.View(ml, MlpData.Blobs(20, 4, 2, seed: 1), 2);
        var validation = MlpData.View(ml, MlpData.Blobs(9, 4, 3, seed: 2), 3);

        var error = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, Small()).Fit(train, validation));
        Assert.Contains("Schema mismatch for label column 'Label': expected Key<UInt32, 0-1> (2 classes) as in the training data, got Key<UInt32, 0-2> (3 classes)", error.Message);
    }

    [Fact]
    public void AnUnknownSizeFeaturesColumnIsRefusedNamingItAndBothTypes()
    {
        var ml = new MLContext(seed: 1);
        var data = MlpData.View(ml, MlpData.Blobs(20, 6, 2, seed: 1), 2, new VectorDataViewType(NumberDataViewType.Single));

        var error = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, Small()).Fit(data));
        Assert.Contains("feature column 'Features': expected Vector<Single>, got VarVector<Single>", error.Message);
    }

    /// <summary>The rows of <paramref name="inner"/>, reporting <paramref name="count"/> as their number.</summary>
    private sealed class CountedView(IDataView inner, long? count) : IDataView
    {
        public bool CanShuffle => inner.CanShuffle;
        public DataViewSchema Schema => inner.Schema;
        public long? GetRowCount() => count;
        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => inner.GetRowCursor(columnsNeeded, rand);
        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => inner.GetRowCursorSet(columnsNeeded, n, rand);
    }

    [Fact]
    public void RowsOfAViewThatDoesNotKnowTheirNumberAreCountedFirst()
    {
        var ml = new MLContext(seed: 1);
        var data = MlpData.View(ml, MlpData.Blobs(20, 6, 2, seed: 1), 2);
        var test = MlpData.View(ml, MlpData.Blobs(6, 6, 2, seed: 2), 2);

        var known = Trainer(ml, Small()).Fit(new CountedView(data, 20)).Transform(test).GetColumn<float[]>("Score").ToArray();
        var counted = Trainer(ml, Small()).Fit(new CountedView(data, null)).Transform(test).GetColumn<float[]>("Score").ToArray();
        Assert.Equal(known, counted);
    }

    [Theory]
    [InlineData(19, "The training data gives more rows than the 19 it counted.")]
    [InlineData(21, "The training data gives 20 rows, but counted 21.")]
    public void AViewWhoseRowCountDisagreesWithItsRowsIsAnError(long count, string message)
    {
        var ml = new MLContext(seed: 1);
        var data = new CountedView(MlpData.View(ml, MlpData.Blobs(20, 6, 2, seed: 1), 2), count);
        Assert.Equal(message, Assert.Throws<InvalidOperationException>(() => Trainer(ml, Small()).Fit(data)).Message);
    }

    // *** Errors that name what went wrong ***

    [Fact]
    public void ALabelOfOneClassNamesTheLabelColumn()
    {
        var ml = new MLContext(seed: 1);
        var data = MlpData.View(ml, MlpData.Blobs(20, 6, 1, seed: 1), classes: 1);

        var message = Messages(Assert.ThrowsAny<Exception>(() => Trainer(ml, Small()).Fit(data)));
        Assert.Contains("label column 'Label'", message);
        Assert.Contains("at least 2 classes", message);
        Assert.DoesNotContain("Features", message);
    }

    /// <summary>Makes the option called <paramref name="option"/> invalid whatever the data.</summary>
    private static void Spoil(MultilayerPerceptronOptions options, string option)
    {
        switch (option)
        {
            case "Normalization": options.Normalization = (HiddenNormalization)99; break;
            case "BatchOrder": options.BatchOrder = (BatchOrder)99; break;
            case "HiddenLayers": options.HiddenLayers = [8, 0]; break;
            case "BatchSize": options.BatchSize = 0; break;
            case "BatchSize of one with batch statistics": options.BatchSize = 1; options.Normalization = HiddenNormalization.BatchNorm; break;
            case "Epochs": options.Epochs = 0; break;
            case "LearningRate": options.LearningRate = double.NaN; break;
            case "Momentum": options.Momentum = -0.5; break;
            case "WeightDecay": options.WeightDecay = double.NaN; break;
            case "ClassesPerBatch": options.ClassesPerBatch = 0; break;
            case "GroupNormGroups": options.Normalization = HiddenNormalization.GroupNorm; options.HiddenLayers = [16]; options.GroupNormGroups = 5; break;
            case "RenormAlpha": options.Normalization = HiddenNormalization.BatchRenorm; options.RenormAlpha = 0; break;
            case "RenormSchedule": options.Normalization = HiddenNormalization.BatchRenorm; options.RenormSchedule = new RenormSchedule(WarmupSteps: -1); break;
            case "HiddenLayers wider than MaxParameterLength": options.HiddenLayers = [ModelLimits.MaxParameterLength + 1]; break;
            case "HiddenLayers with more than MaxLayers layers": options.Normalization = HiddenNormalization.None; options.HiddenLayers = Enumerable.Repeat(1, 512).ToArray(); break;
            case "HiddenLayers with more than MaxLinearWeights": options.HiddenLayers = [16384, 16385]; break;
            default: throw new ArgumentException(option);
        }
    }

    public static TheoryData<string, string, string> BadOptions() => new()
    {
        // The spoiled option, the parameter the error names, and what its message must say.
        { "Normalization", "Normalization", "Normalization 99 is not a HiddenNormalization" },
        { "BatchOrder", "BatchOrder", "BatchOrder 99 is not a BatchOrder" },
        { "HiddenLayers", "HiddenLayers", "HiddenLayers must be positive, got [8, 0]" },
        { "BatchSize", "BatchSize", "BatchSize must be positive, got 0" },
        { "BatchSize of one with batch statistics", "BatchSize", "BatchSize must be at least 2 with Normalization BatchNorm" },
        { "Epochs", "Epochs", "Epochs must be positive, got 0" },
        { "LearningRate", "LearningRate", "LearningRate must be positive and finite, got NaN" },
        { "Momentum", "Momentum", "Momentum must be finite and not negative, got -0.5" },
        { "WeightDecay", "WeightDecay", "WeightDecay must be finite and not negative, got NaN" },
        { "ClassesPerBatch", "ClassesPerBatch", "ClassesPerBatch must be positive, got 0" },
        { "GroupNormGroups", "GroupNormGroups", "GroupNormGroups 5 does not divide HiddenLayers[0] = 16" },
        { "RenormAlpha", "RenormAlpha", "RenormAlpha must be in (0, 1], got 0" },
        { "RenormSchedule", "RenormSchedule", "RenormSchedule needs 0 ≤ WarmupSteps ≤ RMaxSteps and DMaxSteps, got -1" },
        { "HiddenLayers wider than MaxParameterLength", "HiddenLayers", "HiddenLayers[0] is 1048577 units wide; a layer is at most 1048576 (ModelLimits.MaxParameterLength)" },
        { "HiddenLayers with more than MaxLayers layers", "HiddenLayers", "a network of 1025 layers; a network has at most 1024 (ModelLimits.MaxLayers)" },
        { "HiddenLayers with more than MaxLinearWeights", "HiddenLayers", "HiddenLayers[0] → HiddenLayers[1] is a Linear layer of 16384 × 16385 = 268451840 weights; a Linear layer holds at most 268435456 (ModelLimits.MaxLinearWeights)" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void TheCatalogRefusesAnOptionThatIsBadWhateverTheDataNamingIt(string option, string parameter, string message)
    {
        var options = Small();
        Spoil(options, option);

        var error = Assert.ThrowsAny<ArgumentException>(() => Trainer(new MLContext(seed: 1), options));
        Assert.Equal(parameter, error.ParamName);
        Assert.StartsWith(parameter, error.Message);
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void TrainingRefusesItAgainNamingIt(string option, string parameter, string message)
    {
        // Options the catalog accepted and that changed afterwards, and the training API without the catalog.
        var ml = new MLContext(seed: 1);
        var options = Small();
        var trainer = Trainer(ml, options);
        Spoil(options, option);
        var rows = MlpData.Blobs(20, 6, 2, seed: 1);

        foreach (var train in new Action[] { () => trainer.Fit(MlpData.View(ml, rows, 2)), () => MultilayerPerceptronTraining.Train(MlpData.Labeled(rows, 2), options) })
        {
            var error = Assert.ThrowsAny<ArgumentException>(train);
            Assert.Equal(parameter, error.ParamName);
            Assert.StartsWith(parameter, error.Message);
            Assert.Contains(message, error.Message);
        }
    }

    [Fact]
    public void ABatchLargerThanTheDataNamesBatchSize()
    {
        var ml = new MLContext(seed: 1);
        var options = Small();
        options.BatchSize = 21;

        var error = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, options).Fit(MlpData.View(ml, MlpData.Blobs(20, 6, 2, seed: 1), 2)));
        Assert.Equal("BatchSize", error.ParamName);
        Assert.StartsWith("BatchSize 21 is larger than the 20 training rows", error.Message);
    }

    // *** Training that makes no step ***

    // Instance norm is for convolutions only: the perceptron refuses it (ConvolutionalNetworkTrainingTests).
    public static TheoryData<HiddenNormalization> Normalizations() => new(Enum.GetValues<HiddenNormalization>().Where(n => n != HiddenNormalization.InstanceNorm));

    private static bool UsesBatchStatistics(HiddenNormalization normalization)
        => normalization is not (HiddenNormalization.None or HiddenNormalization.LayerNorm or HiddenNormalization.GroupNorm);

    [Theory]
    [MemberData(nameof(Normalizations))]
    public void BatchesOfOneRowInClassGroupedOrderTrainOnEveryRowOrAreRefusedUpFront(HiddenNormalization normalization)
    {
        var rows = MlpData.Blobs(30, 6, 3, seed: 3);
        var options = new MultilayerPerceptronOptions
        {
            HiddenLayers = [4], Normalization = normalization, GroupNormGroups = 2, BatchSize = 1, Epochs = 2, BatchOrder = BatchOrder.ClassGrouped,
        };

        if (UsesBatchStatistics(normalization))
        {
            var error = Assert.ThrowsAny<ArgumentException>(() => MultilayerPerceptronTraining.Train(MlpData.Labeled(rows, 3), options));
            Assert.Equal("BatchSize", error.ParamName);
            return;
        }
        var model = MultilayerPerceptronTraining.Train(MlpData.Labeled(rows, 3), options);
        Assert.Equal(60, model.StepLosses.Count);
        Assert.All(model.Epochs, e => Assert.True(double.IsFinite(e.Loss) && double.IsFinite(e.TrainAccuracy), e.ToString()));
    }

    [Fact]
    public void TheTrainerWithBatchesOfOneRowInClassGroupedOrderReportsFiniteLosses()
    {
        var ml = new MLContext(seed: 1);
        var reports = new List<EpochReport>();
        var options = Small();
        options.Normalization = HiddenNormalization.None;
        options.BatchSize = 1;
        options.BatchOrder = BatchOrder.ClassGrouped;
        options.EpochCompleted = reports.Add;

        Trainer(ml, options).Fit(MlpData.View(ml, MlpData.Blobs(20, 6, 2, seed: 1), 2));
        var report = Assert.Single(reports);
        Assert.True(double.IsFinite(report.Loss), report.ToString());
    }

    /// <summary>Rows seen per epoch (each epoch the same), counted by the BeforeUpdate hook.</summary>
    private static int RowsPerEpoch(LabeledData data, MultilayerPerceptronOptions options)
    {
        var rows = new Dictionary<int, int>();
        options.Epochs = 2;
        options.BeforeUpdate = step => rows[step.Epoch] = rows.GetValueOrDefault(step.Epoch) + step.Labels.Length;
        MultilayerPerceptronTraining.Train(data, options);
        Assert.Equal(rows[1], rows[2]);
        return rows[1];
    }

    [Theory]
    [InlineData(HiddenNormalization.None, 33)]
    [InlineData(HiddenNormalization.LayerNorm, 33)]
    [InlineData(HiddenNormalization.GroupNorm, 33)]
    [InlineData(HiddenNormalization.BatchNorm, 32)]
    [InlineData(HiddenNormalization.BatchRenorm, 32)]
    public void AShuffledEpochSeesEveryRowUnlessBatchStatisticsLeaveALastRowOut(HiddenNormalization normalization, int rowsSeen)
    {
        // 33 rows in batches of 16: the last batch has one row.
        var data = MlpData.Labeled(MlpData.Blobs(33, 6, 3, seed: 4), 3);
        var options = new MultilayerPerceptronOptions { HiddenLayers = [4], Normalization = normalization, GroupNormGroups = 2, BatchSize = 16 };
        Assert.Equal(rowsSeen, RowsPerEpoch(data, options));
    }

    [Theory]
    [InlineData(HiddenNormalization.None, 15)]
    [InlineData(HiddenNormalization.LayerNorm, 15)]
    [InlineData(HiddenNormalization.BatchNorm, 12)]
    public void AClassGroupedEpochSeesEveryRowUnlessBatchStatisticsLeaveOneRowBatchesOut(HiddenNormalization normalization, int rowsSeen)
    {
        // 3 classes of 5 rows, one class per batch of 4: every class ends in a batch of one row.
        var data = MlpData.Labeled(MlpData.Blobs(15, 6, 3, seed: 5), 3);
        var options = new MultilayerPerceptronOptions
        {
            HiddenLayers = [4], Normalization = normalization, BatchSize = 4, BatchOrder = BatchOrder.ClassGrouped, ClassesPerBatch = 1,
        };
        Assert.Equal(rowsSeen, RowsPerEpoch(data, options));
    }

    [Theory]
    [InlineData(HiddenNormalization.BatchNorm)]
    [InlineData(HiddenNormalization.L1BatchNorm)]
    public void OneClassPerBatchWhenNoClassHasTwoRowsIsRefusedUpFront(HiddenNormalization normalization)
    {
        // Six classes of one row each: every batch of one class has one row, which batch statistics cannot use.
        var ml = new MLContext(seed: 1);
        var rows = MlpData.Blobs(6, 4, 6, seed: 6);
        var options = Small();
        options.Normalization = normalization;
        options.BatchSize = 2;
        options.BatchOrder = BatchOrder.ClassGrouped;
        options.ClassesPerBatch = 1;

        foreach (var train in new Action[] { () => Trainer(ml, options).Fit(MlpData.View(ml, rows, 6)), () => MultilayerPerceptronTraining.Train(MlpData.Labeled(rows, 6), options) })
        {
            var error = Assert.ThrowsAny<ArgumentException>(train);
            Assert.Equal("ClassesPerBatch", error.ParamName);
            Assert.Contains("ClassesPerBatch 1 with BatchOrder ClassGrouped", error.Message);
            Assert.Contains("no class has 2 training rows", error.Message);
            Assert.Contains("no step", error.Message);
        }

        // One class of two rows is enough for a step.
        rows[0] = (rows[0].Features, 1);
        Assert.NotEmpty(MultilayerPerceptronTraining.Train(MlpData.Labeled(rows, 6), options).StepLosses);
    }

    // *** Limits ***

    private static float[] Values(int length, int seed)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < values.Length; i++)
            values[i] = (float)random.NextDouble();
        return values;
    }

    [Theory]
    [InlineData("features")]
    [InlineData("classes")]
    [InlineData("layers")]
    public void ANetworkAtTheLimitsTrainsSavesAndLoads(string limit)
    {
        int features = limit == "features" ? ModelLimits.MaxParameterLength : 3;
        int classes = limit == "classes" ? ModelLimits.MaxParameterLength : 2;
        var options = new MultilayerPerceptronTrainer.Options
        {
            // Linear → BatchNorm → ReLU per hidden layer: 341 of them and the output layer are 1,024 layers.
            HiddenLayers = limit == "layers" ? Enumerable.Repeat(1, 341).ToArray() : [1],
            BatchSize = 2,
            Epochs = 1,
        };
        int trainedLayers = 0;
        options.BeforeUpdate = step => trainedLayers = step.Network.Layers.Count;
        var ml = new MLContext(seed: 1);
        var data = MlpData.View(ml, [(Values(features, 1), 0), (Values(features, 2), 1)], classes);

        var model = Trainer(ml, options).Fit(data);
        Assert.Equal(limit == "layers" ? ModelLimits.MaxLayers : 4, trainedLayers);
        var expected = model.Transform(data).GetColumn<float[]>("Score").ToArray();
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var loaded = new MLContext(seed: 2).Model.Load(stream, out _);

        Assert.Equal(expected, loaded.Transform(data).GetColumn<float[]>("Score").ToArray());
    }

    [Theory]
    [InlineData("features", "Features")]
    [InlineData("classes", "Label")]
    [InlineData("first Linear", "Features")]
    [InlineData("last Linear", "Label")]
    public void OnePastALimitThatDependsOnTheDataIsRefusedWhenTrainingNamingTheColumn(string limit, string column)
    {
        var (features, hidden, classes, bound) = limit switch
        {
            "features" => (ModelLimits.MaxParameterLength + 1, 1, 2, "ModelLimits.MaxParameterLength"),
            "classes" => (3, 1, ModelLimits.MaxParameterLength + 1, "ModelLimits.MaxParameterLength"),
            // 16384 × 16385 and 512 × 524289 weights: just over 2^28.
            "first Linear" => (16384, 16385, 2, "ModelLimits.MaxLinearWeights"),
            _ => (3, 512, (1 << 19) + 1, "ModelLimits.MaxLinearWeights"),
        };
        var ml = new MLContext(seed: 1);
        var data = MlpData.View(ml, [(Values(features, 1), 0), (Values(features, 2), 1)], classes);
        var options = new MultilayerPerceptronTrainer.Options { HiddenLayers = [hidden], BatchSize = 2, Epochs = 1 };

        var message = Messages(Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, options).Fit(data)));
        Assert.Contains($"column '{column}'", message);
        Assert.Contains(bound, message);
        if (limit.EndsWith("Linear", StringComparison.Ordinal))
            Assert.Contains("HiddenLayers", message);
    }

    [Fact]
    public void TheNetworkBuildersRefuseWhatASavedModelCouldNotHold()
    {
        var options = new MultilayerPerceptronOptions { HiddenLayers = [1] };
        Assert.Contains("ModelLimits.MaxParameterLength", Assert.ThrowsAny<ArgumentException>(() => MultilayerPerceptronTraining.Build(ModelLimits.MaxParameterLength + 1, 2, options)).Message);
        Assert.Contains("ModelLimits.MaxParameterLength", Assert.ThrowsAny<ArgumentException>(() => MultilayerPerceptronTraining.Build(2, ModelLimits.MaxParameterLength + 1, options)).Message);

        // 65536 × 65536 overflows an int to 0: the layer must be refused, not built without weights.
        Assert.Contains("ModelLimits.MaxLinearWeights", Assert.ThrowsAny<ArgumentException>(() => new LinearLayer(65536, 65536)).Message);
        Assert.Contains("ModelLimits.MaxLinearWeights", Assert.ThrowsAny<ArgumentException>(() => new LinearLayer(65536, 65536, [], new float[65536])).Message);
        Assert.Contains("ModelLimits.MaxParameterLength", Assert.ThrowsAny<ArgumentException>(() => new LinearLayer(ModelLimits.MaxParameterLength + 1, 1)).Message);

        Assert.Equal(ModelLimits.MaxLayers, new Sequential(Enumerable.Range(0, ModelLimits.MaxLayers).Select(_ => new ReluLayer(1))).Layers.Count);
        Assert.Contains("ModelLimits.MaxLayers", Assert.ThrowsAny<ArgumentException>(() => new Sequential(Enumerable.Range(0, ModelLimits.MaxLayers + 1).Select(_ => new ReluLayer(1)))).Message);
    }
}
