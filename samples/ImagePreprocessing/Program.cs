using ImagePreprocessing;
using Samples.Common;

const string Usage = """
    ImagePreprocessing: runs ML.NET's image chain LoadImages -> ResizeImages -> ExtractPixels, then the
    MLNet.Normalization input normalizers, on a folder of images. Compares ImageNet and fitted per-channel
    statistics and the three Keras ImageNet modes, saves and reloads the fitted model, predicts one image,
    and draws the normalized channels and the denormalized round trip into preprocessing.png.

    Usage: dotnet run --project samples/ImagePreprocessing -- [options]

    Options:
      --images <folder>  PNG/JPG files to process; default: tinted Fashion-MNIST test images written to <output>/images
      --output <folder>  where to write images/, model.zip and preprocessing.png; default: ./output
      --size <pixels>    side of the square the images are resized to, 2..1024; default 32
      --count <n>        number of images, 1..1000; with --images, the first n files by name; default 16
      --help             show this text
    """;

return SampleProgram.Run(Usage, () =>
{
    var options = CommandLine.Parse(args, "images", "output", "size", "count");
    return options.HelpRequested ? null : new DemoSettings(
        ImagesFolder: options.GetString("images"),
        OutputFolder: Path.GetFullPath(options.GetString("output") ?? "output"),
        Side: options.GetInt("size", defaultValue: 32, min: 2, max: 1024),
        Count: options.GetInt("count", defaultValue: 16, min: 1, max: 1000));
}, PreprocessingDemo.Run);
