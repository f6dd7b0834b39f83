// Layers a hostile registry could serve ("decompression bombs"), built directly in compressed form:
// a run of identical tar bytes is compressed once and its gzip member or zstd frame repeated (both
// formats decode concatenated members/frames as one stream), so a test makes a layer that expands to
// many GiB or millions of entries in milliseconds and a few hundred KB of memory.
//
//   CraftedLayer bomb = ZeroFileLayer(uint64_t{3} << 30, image::Compression::kZstd);  // ~100 KB blob
//   TestImage img = CraftedImage({bomb});  // config names the layer's (made-up) diff_id
//   ASSERT_TRUE(PushImage(client, "evil/zeros", "v1", img, ctx).ok());
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/common/digest.h"
#include "lib/image/layer_stream.h"
#include "test/support/test_image.h"

namespace cricket::testing {

struct CraftedLayer {
  std::string blob;  // the compressed bytes a registry serves
  image::Compression compression = image::Compression::kZstd;
  uint64_t tar_size = 0;  // what `blob` decompresses to
  // What the image config claims. Made up (an attacker need not compute it) unless the builder says
  // otherwise.
  Digest diff_id = Digest::Sha256Of("made-up diff_id");
};

// One regular file "zeros" holding `bytes` zero bytes (sizes past 8 GiB use a base-256 size field).
CraftedLayer ZeroFileLayer(uint64_t bytes, image::Compression c);

// `count` PAX sparse entries (GNU sparse format 1.0: GNU.sparse.* records, the map at the start of the
// data), "sparse0".."sparseN-1", each declaring `declared` bytes of which only the last byte is data:
// holes of declared-1 bytes. `real_diff_id`: compute the true diff_id (the tar is small).
CraftedLayer SparseLayer(int count, uint64_t declared, image::Compression c, bool real_diff_id = false);

// `count` empty regular files. `same_name`: all named "f" (each replaces the one before: no disk, all
// work), built from repeated blocks; otherwise "d/f0".."d/fN-1" (the whole tar is built in memory, so
// keep `count` to a few hundred thousand), with the real diff_id.
CraftedLayer ManyEntriesLayer(uint64_t count, image::Compression c, bool same_name = true);

// A layer of `bytes` pseudo-random (incompressible) bytes in one file, with its real diff_id.
CraftedLayer RandomFileLayer(uint64_t bytes, uint32_t seed, image::Compression c);

// An OCI image (host platform) of `layers`: the config lists their diff_ids as given.
TestImage CraftedImage(const std::vector<CraftedLayer>& layers);

}  // namespace cricket::testing
