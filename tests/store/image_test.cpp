// Images (SPEC §3 obs_image, §4 append / to_dataset): PNG and JPEG decoding, grey / RGB / RGBA,
// int64 and uint8 output, padding and truncation, appended pixels stored as PNG Image features.
#include <gtest/gtest.h>
#include <jpeglib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "mouse/hub.hpp"
#include "store/image_codec.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::iota;
using test::make_dataset;
using test::step_row;
using test::values_of;

ImagePixels gradient(int64_t h, int64_t w, int64_t c, int seed = 0) {
  ImagePixels img{h, w, c, {}};
  for (int64_t i = 0; i < h * w * c; ++i) img.pixels.push_back(static_cast<uint8_t>((i * 7 + seed) % 256));
  return img;
}

std::string png_of(const ImagePixels& img) {
  return detail::encode_png(img.pixels.data(), img.pixels.size(), img.height, img.width,
                            img.channels);
}

// JPEG bytes of `img` (1 or 3 channels) at quality 100, written with libjpeg.
std::string jpeg_of(const ImagePixels& img) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &out, &size);
  cinfo.image_width = static_cast<JDIMENSION>(img.width);
  cinfo.image_height = static_cast<JDIMENSION>(img.height);
  cinfo.input_components = static_cast<int>(img.channels);
  cinfo.in_color_space = img.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(img.pixels.data()) + cinfo.next_scanline * img.width * img.channels;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::string bytes(reinterpret_cast<char*>(out), size);
  jpeg_destroy_compress(&cinfo);
  std::free(out);
  return bytes;
}

// An Image column (struct<bytes: binary, path: string>) of the given encoded images.
arrow::ArrayPtr image_column(const std::vector<std::optional<std::string>>& bytes,
                             const std::vector<bool>& valid = {}) {
  std::vector<std::optional<std::string>> paths(bytes.size());
  return arrow::make_struct({"bytes", "path"}, {arrow::make_binary(bytes), arrow::make_utf8(paths)},
                            valid);
}

Dataset image_dataset(arrow::ArrayPtr images) {
  const int64_t n = images->length;
  std::vector<int64_t> zeros(static_cast<size_t>(n), 0);
  std::vector<float> r(static_cast<size_t>(n), 0);
  return make_dataset({"action", "reward", "done", "observation_image"},
                      {arrow::make_primitive<int64_t>(zeros), arrow::make_primitive<float>(r),
                       arrow::make_primitive<int64_t>(zeros), std::move(images)});
}

TEST(ImageCodec, PngRoundTripsGreyGreyAlphaRgbRgba) {
  for (int64_t c : {1, 2, 3, 4}) {
    SCOPED_TRACE(c);
    ImagePixels img = gradient(5, 7, c, static_cast<int>(c));
    std::string png = png_of(img);
    EXPECT_EQ(detail::sniff_image(png), detail::ImageFormat::kPng);
    detail::DecodedImage d = detail::decode_image(png, "test");
    EXPECT_EQ(d.height, 5);
    EXPECT_EQ(d.width, 7);
    EXPECT_EQ(d.channels, c);
    EXPECT_EQ(d.pixels, img.pixels);
  }
}

TEST(ImageCodec, JpegGreyAndRgbDecodeCloseToTheOriginal) {
  for (int64_t c : {1, 3}) {
    SCOPED_TRACE(c);
    ImagePixels img{8, 8, c, std::vector<uint8_t>(static_cast<size_t>(64 * c), 0)};
    for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(100 + (i % 3) * 40);
    if (c == 1) std::fill(img.pixels.begin(), img.pixels.end(), 77);
    std::string jpg = jpeg_of(img);
    EXPECT_EQ(detail::sniff_image(jpg), detail::ImageFormat::kJpeg);
    detail::DecodedImage d = detail::decode_image(jpg, "test");
    EXPECT_EQ(d.height, 8);
    EXPECT_EQ(d.width, 8);
    EXPECT_EQ(d.channels, c);
    ASSERT_EQ(d.pixels.size(), img.pixels.size());
    for (size_t i = 0; i < d.pixels.size(); ++i) {
      EXPECT_NEAR(d.pixels[i], img.pixels[i], 12) << i;
    }
  }
}

TEST(ImageCodec, CorruptBytesAreFormatErrors) {
  EXPECT_THROW_MSG(detail::decode_image("GIF89a....", "where"), FormatError, "expected PNG or JPEG");
  std::string png = png_of(gradient(4, 4, 3));
  EXPECT_THROW_MSG(detail::decode_image(png.substr(0, png.size() / 2), "where"), FormatError,
                   "PNG image does not decode");
  std::string jpg = jpeg_of(gradient(8, 8, 3));
  EXPECT_THROW_MSG(detail::decode_image(jpg.substr(0, 40), "where"), FormatError,
                   "JPEG image does not decode");
}

TEST(ObsImage, DecodedFlattenedPaddedAndTruncatedInt64ByDefault) {
  ImagePixels grey = gradient(2, 3, 1);   // 6 values
  ImagePixels rgba = gradient(2, 2, 4);   // 16 values
  auto ds = image_dataset(image_column({png_of(grey), png_of(rgba), std::nullopt}, {true, true, false}));
  DatasetStore store(1, 0, 0, 10);
  TensorDict td = store.encode_hf_rows(ds);
  const Tensor& t = td.at("obs_image");
  EXPECT_EQ(t.dtype(), DType::kInt64);
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{3, 10}));
  auto v = values_of<int64_t>(t);
  std::vector<int64_t> want;
  for (uint8_t p : grey.pixels) want.push_back(p);
  want.resize(10, 0);                                                   // zero-padded
  for (int i = 0; i < 10; ++i) want.push_back(rgba.pixels[static_cast<size_t>(i)]);  // truncated
  want.resize(30, 0);                                                   // null row: zeros
  EXPECT_EQ(v, want);
}

TEST(ObsImage, Uint8OnRequestAndJpegAndBinaryColumns) {
  ImagePixels rgb = gradient(3, 3, 3, 5);
  StoreConfig config;
  config.max_action_dim = 1;
  config.max_obs_image_pixels = 27;
  config.obs_image_dtype = DType::kUInt8;
  DatasetStore store(config);
  TensorDict td = store.encode_hf_rows(image_dataset(image_column({png_of(rgb)})));
  EXPECT_EQ(td.at("obs_image").dtype(), DType::kUInt8);
  EXPECT_EQ(values_of<uint8_t>(td.at("obs_image")), rgb.pixels);
  // A plain binary column of encoded bytes works too (JPEG here).
  std::string jpg = jpeg_of(rgb);
  auto bin = store.encode_hf_rows(image_dataset(arrow::make_binary({jpg})));
  EXPECT_EQ(bin.at("obs_image").shape(), (std::vector<int64_t>{1, 27}));
  // A nested list of pixel values is flattened row-major.
  std::vector<int64_t> outer{0, 2}, inner{0, 3, 6};
  auto nested = arrow::make_list(outer, arrow::make_list(inner, arrow::make_primitive<uint8_t>(
                                                                    std::vector<uint8_t>{1, 2, 3, 4, 5, 6})));
  auto flat = store.encode_hf_rows(image_dataset(nested));
  auto fv = values_of<int64_t>(flat.at("obs_image"));
  EXPECT_EQ(std::vector<int64_t>(fv.begin(), fv.begin() + 7), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 0}));
}

// Image values that carry only a path, no bytes.
arrow::ArrayPtr path_column(const std::vector<std::string>& paths) {
  std::vector<std::optional<std::string>> none(paths.size());
  std::vector<std::optional<std::string>> given(paths.begin(), paths.end());
  return arrow::make_struct({"bytes", "path"}, {arrow::make_binary(none), arrow::make_utf8(given)});
}

std::string encode_error(const DatasetStore& store, const Dataset& ds) {
  try {
    (void)store.encode_hf_rows(ds);
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST(ObsImage, HubImagePathsResolveUnderTheDatasetDirectoryAndStayThere) {
  test::TempDir tmp;
  namespace fs = std::filesystem;
  const ImagePixels grey = gradient(2, 3, 1);
  const fs::path hub = tmp / "hub";
  const fs::path outside = tmp / "outside.png";
  const std::vector<std::string> paths = {"images/a.png", "../outside.png", outside.string(),
                                          "images/link.png", "images/../images/a.png"};
  // Features saying Image, as `datasets` writes them.
  const auto as_images = [](const Dataset& ds) {
    return Dataset::from_batches(
        ds.schema(), ds.batches(),
        Features::from_json(R"({"action": {"dtype": "int64", "_type": "Value"},
                                "reward": {"dtype": "float32", "_type": "Value"},
                                "done": {"dtype": "int64", "_type": "Value"},
                                "observation_image": {"_type": "Image"}})"));
  };
  DatasetDict dict;
  dict.insert("train", as_images(image_dataset(path_column(paths))));
  save_to_hub_layout(dict, hub);
  fs::create_directories(hub / "images");
  std::ofstream(hub / "images/a.png", std::ios::binary) << png_of(grey);
  std::ofstream(outside, std::ios::binary) << png_of(grey);
  fs::create_symlink("../../outside.png", hub / "images/link.png");

  HubLoadOptions opt;
  opt.cache_dir = tmp / "cache";
  const Dataset loaded = load_hub_layout(hub, opt).at("train");
  ASSERT_TRUE(loaded.image_root().has_value());
  EXPECT_EQ(*loaded.image_root(), fs::canonical(hub));
  DatasetStore store(1, 0, 0, 6);
  // Relative to the dataset directory, wherever the process runs.
  for (const int64_t row : {int64_t{0}, int64_t{4}}) {
    const auto v = values_of<int64_t>(store.encode_hf_rows(loaded.slice(row, 1)).at("obs_image"));
    EXPECT_EQ(v, std::vector<int64_t>(grey.pixels.begin(), grey.pixels.end())) << paths[row];
  }
  // Out of it: by "..", by an absolute path, by a symbolic link. Each names the row and path.
  const std::string up = encode_error(store, loaded);  // row 1 is the first bad one
  EXPECT_NE(up.find("row 1"), std::string::npos) << up;
  EXPECT_NE(up.find("\"../outside.png\" leads outside the dataset directory"), std::string::npos) << up;
  const std::string absolute = encode_error(store, loaded.slice(2, 1));
  EXPECT_NE(absolute.find("is absolute"), std::string::npos) << absolute;
  const std::string link = encode_error(store, loaded.slice(3, 1));
  EXPECT_NE(link.find("\"images/link.png\" leads outside"), std::string::npos) << link;
  // Slices and selections keep the root.
  EXPECT_EQ(loaded.select(std::vector<int64_t>{3}).image_root(), loaded.image_root());

  // A dataset that is not a Hub layout reads its paths as given, as `datasets` does.
  const Dataset local = as_images(image_dataset(path_column({outside.string()})));
  EXPECT_FALSE(local.image_root().has_value());
  EXPECT_EQ(encode_error(store, local), "");
  // Mixing the two would read one's paths under the other's rules.
  const std::vector<Dataset> both = {loaded.slice(0, 1), local};
  try {
    (void)Dataset::concatenate(both);
    ADD_FAILURE() << "concatenated";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("resolve differently"), std::string::npos) << e.what();
  }
}

TEST(ObsImage, UndecodableBytesNameColumnAndRow) {
  auto ds = image_dataset(image_column({png_of(gradient(2, 2, 1)), std::string("not an image")}));
  DatasetStore store(1, 0, 0, 4);
  EXPECT_THROW_MSG(store.encode_hf_rows(ds), FormatError, "column \"observation_image\" row 1");
}

TEST(ObsImage, AppendedPixelsAndEncodedImagesBecomePngImageFeatures) {
  StoreConfig config;
  config.max_action_dim = 2;
  config.max_obs_image_pixels = 48;
  DatasetStore store(config);
  std::vector<ImagePixels> images = {gradient(4, 4, 3, 1), gradient(2, 5, 1, 2), gradient(3, 4, 4, 3)};
  for (size_t i = 0; i < images.size(); ++i) {
    StepRow row = step_row(static_cast<int64_t>(i), 0, 0);
    row["observation_image"] = images[i];
    store.append(row);
  }
  StepRow jrow = step_row(9, 0, 0);
  jrow["observation_image"] = EncodedImage{jpeg_of(gradient(4, 4, 3))};
  store.append(jrow);
  StepRow none = step_row(10, 0, 0);
  store.append(none);  // no image: a null Image
  auto idx = iota(store.size());
  TensorDict want = store.get(idx);
  auto v = values_of<int64_t>(want.at("obs_image"));
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = 0; j < images[i].pixels.size(); ++j) {
      ASSERT_EQ(v[i * 48 + j], images[i].pixels[j]) << "image " << i << " pixel " << j;
    }
  }
  Dataset ds = store.to_dataset();
  EXPECT_EQ(ds.features().type_of("observation_image"), "Image()");
  // The stored bytes are PNG.
  auto col = ds.column("observation_image");
  const auto& bytes = *col.chunks[0]->children[0];
  EXPECT_EQ(detail::sniff_image(arrow::binary_value(bytes, 0)), detail::ImageFormat::kPng);
  EXPECT_EQ(detail::sniff_image(arrow::binary_value(bytes, 3)), detail::ImageFormat::kJpeg);
  EXPECT_FALSE(col.chunks[0]->is_valid(4));
  test::TempDir dir;
  ds.save_to_disk(dir / "images");
  DatasetStore again(config);
  again.from_dataset(Dataset::load_from_disk(dir / "images"));
  EXPECT_TRUE(again.get(idx).equals(want));
  EXPECT_NE(test::read_text_file(dir / "images" / "dataset_info.json").find("\"_type\": \"Image\""),
            std::string::npos);
}

TEST(ObsImage, LargeAppendedImagesCloseBlocksEarly) {
  // Noise does not compress: each PNG is about 120 KB, so a block closes after ~9 rows instead of
  // 1000 (re-sealing the open block for readers copies it).
  StoreConfig config;
  config.max_action_dim = 1;
  config.max_obs_image_pixels = 200 * 200 * 3;
  config.obs_image_dtype = DType::kUInt8;
  DatasetStore store(config);
  std::vector<ImagePixels> images;
  uint32_t x = 12345;
  for (int64_t i = 0; i < 25; ++i) {
    ImagePixels img{200, 200, 3, std::vector<uint8_t>(200 * 200 * 3)};
    for (auto& p : img.pixels) {
      x = x * 1664525u + 1013904223u;
      p = static_cast<uint8_t>(x >> 24);
    }
    StepRow row = step_row(i, 0, 0);
    row["observation_image"] = img;
    store.append(row);
    images.push_back(std::move(img));
    std::vector<int64_t> last{-1};
    ASSERT_EQ(values_of<uint8_t>(store.get(last).at("obs_image")), images.back().pixels);
  }
  Dataset ds = store.to_dataset();
  EXPECT_GE(ds.batches().size(), 3u);
  EXPECT_EQ(ds.num_rows(), 25);
  auto idx = iota(25);
  auto all = values_of<uint8_t>(store.get(idx).at("obs_image"));
  for (size_t i = 0; i < 25; ++i) {
    EXPECT_TRUE(std::equal(images[i].pixels.begin(), images[i].pixels.end(), all.begin() + i * 120000)) << i;
  }
}

TEST(ObsImage, BadAppendedImagesAreRefused) {
  DatasetStore store(1, 0, 0, 4);
  StepRow row = step_row(0, 0, 0);
  row["observation_image"] = ImagePixels{2, 2, 5, std::vector<uint8_t>(20)};
  EXPECT_THROW_MSG(store.append(row), TypeError, "1..4 channels");
  row["observation_image"] = ImagePixels{2, 2, 3, std::vector<uint8_t>(11)};
  EXPECT_THROW_MSG(store.append(row), TypeError, "need 12 bytes, got 11");
  row["observation_image"] = EncodedImage{"GIF89a"};
  EXPECT_THROW_MSG(store.append(row), TypeError, "neither PNG nor JPEG");
  EXPECT_EQ(store.size(), 0);
}

}  // namespace
}  // namespace mouse
