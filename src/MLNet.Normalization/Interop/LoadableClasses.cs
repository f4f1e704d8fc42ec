using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Normalization;
using MLNet.Normalization.Interop;

// Every transformer registers the three loader signatures ML.NET uses: as a model (ITransformer), as a row
// mapper, and as a data transform. The model file records this assembly's name, so loading a model brings the
// library in even in a process that has not touched it yet.

[assembly: LoadableClass(typeof(PixelScalingTransformer), typeof(TransformerLoader<PixelScalingTransformer>), null,
    typeof(SignatureLoadModel), "Pixel Scaling", PixelScalingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(TransformerLoader<PixelScalingTransformer>), null,
    typeof(SignatureLoadRowMapper), "Pixel Scaling", PixelScalingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IDataTransform), typeof(TransformerLoader<PixelScalingTransformer>), null,
    typeof(SignatureLoadDataTransform), "Pixel Scaling", PixelScalingTransformer.LoaderSignature)]

[assembly: LoadableClass(typeof(ChannelNormalizingTransformer), typeof(TransformerLoader<ChannelNormalizingTransformer>), null,
    typeof(SignatureLoadModel), "Channel Normalizer", ChannelNormalizingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(TransformerLoader<ChannelNormalizingTransformer>), null,
    typeof(SignatureLoadRowMapper), "Channel Normalizer", ChannelNormalizingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IDataTransform), typeof(TransformerLoader<ChannelNormalizingTransformer>), null,
    typeof(SignatureLoadDataTransform), "Channel Normalizer", ChannelNormalizingTransformer.LoaderSignature)]

[assembly: LoadableClass(typeof(ImageNetPreprocessingTransformer), typeof(TransformerLoader<ImageNetPreprocessingTransformer>), null,
    typeof(SignatureLoadModel), "ImageNet Preprocessing", ImageNetPreprocessingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(TransformerLoader<ImageNetPreprocessingTransformer>), null,
    typeof(SignatureLoadRowMapper), "ImageNet Preprocessing", ImageNetPreprocessingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IDataTransform), typeof(TransformerLoader<ImageNetPreprocessingTransformer>), null,
    typeof(SignatureLoadDataTransform), "ImageNet Preprocessing", ImageNetPreprocessingTransformer.LoaderSignature)]

[assembly: LoadableClass(typeof(ChannelDenormalizingTransformer), typeof(TransformerLoader<ChannelDenormalizingTransformer>), null,
    typeof(SignatureLoadModel), "Channel Denormalizer", ChannelDenormalizingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(TransformerLoader<ChannelDenormalizingTransformer>), null,
    typeof(SignatureLoadRowMapper), "Channel Denormalizer", ChannelDenormalizingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IDataTransform), typeof(TransformerLoader<ChannelDenormalizingTransformer>), null,
    typeof(SignatureLoadDataTransform), "Channel Denormalizer", ChannelDenormalizingTransformer.LoaderSignature)]

[assembly: LoadableClass(typeof(BatchNormTransformer), typeof(TransformerLoader<BatchNormTransformer>), null,
    typeof(SignatureLoadModel), "Batch Normalization", BatchNormTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(TransformerLoader<BatchNormTransformer>), null,
    typeof(SignatureLoadRowMapper), "Batch Normalization", BatchNormTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IDataTransform), typeof(TransformerLoader<BatchNormTransformer>), null,
    typeof(SignatureLoadDataTransform), "Batch Normalization", BatchNormTransformer.LoaderSignature)]

[assembly: LoadableClass(typeof(LayerNormTransformer), typeof(TransformerLoader<LayerNormTransformer>), null,
    typeof(SignatureLoadModel), "Layer Normalization", LayerNormTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(TransformerLoader<LayerNormTransformer>), null,
    typeof(SignatureLoadRowMapper), "Layer Normalization", LayerNormTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IDataTransform), typeof(TransformerLoader<LayerNormTransformer>), null,
    typeof(SignatureLoadDataTransform), "Layer Normalization", LayerNormTransformer.LoaderSignature)]

[assembly: LoadableClass(typeof(GroupNormTransformer), typeof(TransformerLoader<GroupNormTransformer>), null,
    typeof(SignatureLoadModel), "Group Normalization", GroupNormTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(TransformerLoader<GroupNormTransformer>), null,
    typeof(SignatureLoadRowMapper), "Group Normalization", GroupNormTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IDataTransform), typeof(TransformerLoader<GroupNormTransformer>), null,
    typeof(SignatureLoadDataTransform), "Group Normalization", GroupNormTransformer.LoaderSignature)]
