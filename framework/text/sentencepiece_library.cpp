#include "framework/text/sentencepiece_library.h"

#include "framework/core/error.h"

#include <sentencepiece_processor.h>

#include <dlfcn.h>
#include <link.h>

#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace ptlab::text {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kDeepBindAvailable = false;
#else
constexpr bool kDeepBindAvailable = true;
#endif

// True when a libprotobuf is loaded in this process (LibTorch brings one).
bool protobuf_loaded() {
  bool found = false;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        if (info->dlpi_name != nullptr &&
            std::string_view(info->dlpi_name).find("libprotobuf") != std::string_view::npos)
          *static_cast<bool*>(data) = true;
        return 0;
      },
      &found);
  return found;
}

// Without RTLD_DEEPBIND the library binds its protobuf references in the global scope first, which is
// only safe when no other protobuf is there.
bool deep_bind_needed() { return protobuf_loaded(); }

struct Library {
  void* handle = nullptr;
  std::string path;
  std::string error;
};

Library& library() {
  static Library lib;
  static std::once_flag once;
  std::call_once(once, [] {
    int flags = RTLD_NOW | RTLD_LOCAL;
    if (deep_bind_needed()) {
      if (!kDeepBindAvailable) {
        lib.error =
            "this sanitizer build cannot load it next to LibTorch's protobuf (the sanitizer runtime does "
            "not support RTLD_DEEPBIND)";
        return;
      }
      flags |= RTLD_DEEPBIND;
    }
    std::vector<std::string> candidates;
#ifdef PTLAB_SENTENCEPIECE_LIBRARY
    candidates.push_back(PTLAB_SENTENCEPIECE_LIBRARY);  // the library CMake found, by full path
#endif
    candidates.push_back("libsentencepiece.so.0");
    candidates.push_back("libsentencepiece.so");
    for (const auto& name : candidates) {
      lib.handle = dlopen(name.c_str(), flags);
      if (lib.handle != nullptr) {
        lib.path = name;
        return;
      }
      const char* e = dlerror();
      lib.error += (lib.error.empty() ? "" : "; ") + std::string(e ? e : name + ": unknown error");
    }
  });
  return lib;
}

}  // namespace

bool sentencepiece_supported() { return kDeepBindAvailable || !deep_bind_needed(); }

void load_sentencepiece_library() {
  const Library& lib = library();
  PTLAB_CHECK(lib.handle != nullptr,
              "cannot load libsentencepiece, needed for SentencePiece .model tokenizers: {} (install "
              "libsentencepiece0, or put its directory on LD_LIBRARY_PATH)",
              lib.error);
}

const std::string& sentencepiece_library_path() { return library().path; }

void* detail::sentencepiece_symbol(const char* mangled) {
  load_sentencepiece_library();
  void* symbol = dlsym(library().handle, mangled);
  PTLAB_ASSERT(symbol != nullptr, "{} has no symbol {} (a different libsentencepiece version?)", library().path,
               mangled);
  return symbol;
}

}  // namespace ptlab::text

// Forwarding functions. Each one takes the mangled name of a non-virtual member of libsentencepiece
// (so our object files link against it) and calls the library's own definition. A member function
// `R C::f(A...)` has the ABI of a free function `R f(C* this, A...)` on x86-64 and AArch64 (a result
// returned in memory passes its address first in both), which is how they are declared here.
#define PTLAB_SENTENCEPIECE_FORWARD(Ret, name, mangled, Params, Args)                                             \
  Ret name Params __asm__(mangled);                                                                               \
  Ret name Params {                                                                                               \
    static const auto fn = reinterpret_cast<Ret(*) Params>(::ptlab::text::detail::sentencepiece_symbol(mangled)); \
    return fn Args;                                                                                               \
  }

namespace ptlab_sentencepiece_forward {

using sentencepiece::ImmutableSentencePieceText_ImmutableSentencePiece;
using sentencepiece::util::Status;
using Pieces = std::vector<ImmutableSentencePieceText_ImmutableSentencePiece>;

// sentencepiece::SentencePieceProcessor
PTLAB_SENTENCEPIECE_FORWARD(void, processor_ctor, "_ZN13sentencepiece22SentencePieceProcessorC1Ev", (void* self),
                            (self))
PTLAB_SENTENCEPIECE_FORWARD(
    Status, processor_load_serialized,
    "_ZN13sentencepiece22SentencePieceProcessor23LoadFromSerializedProtoESt17basic_string_viewIcSt11char_traitsIcEE",
    (void* self, std::string_view data), (self, data))
// sentencepiece::util::Status
PTLAB_SENTENCEPIECE_FORWARD(void, status_dtor, "_ZN13sentencepiece4util6StatusD1Ev", (void* self), (self))
PTLAB_SENTENCEPIECE_FORWARD(std::string, status_to_string, "_ZNK13sentencepiece4util6Status8ToStringB5cxx11Ev",
                            (const void* self), (self))
// sentencepiece::ImmutableSentencePieceText
PTLAB_SENTENCEPIECE_FORWARD(void, text_ctor, "_ZN13sentencepiece26ImmutableSentencePieceTextC1Ev", (void* self), (self))
PTLAB_SENTENCEPIECE_FORWARD(void, text_dtor, "_ZN13sentencepiece26ImmutableSentencePieceTextD1Ev", (void* self), (self))
PTLAB_SENTENCEPIECE_FORWARD(void*, text_mutable_proto,
                            "_ZN13sentencepiece26ImmutableSentencePieceText13mutable_protoEv", (void* self), (self))
PTLAB_SENTENCEPIECE_FORWARD(Pieces, text_pieces, "_ZNK13sentencepiece26ImmutableSentencePieceText6piecesEv",
                            (const void* self), (self))
// sentencepiece::ImmutableSentencePieceText_ImmutableSentencePiece
PTLAB_SENTENCEPIECE_FORWARD(std::uint32_t, piece_id,
                            "_ZNK13sentencepiece49ImmutableSentencePieceText_ImmutableSentencePiece2idEv",
                            (const void* self), (self))
PTLAB_SENTENCEPIECE_FORWARD(std::uint32_t, piece_begin,
                            "_ZNK13sentencepiece49ImmutableSentencePieceText_ImmutableSentencePiece5beginEv",
                            (const void* self), (self))
PTLAB_SENTENCEPIECE_FORWARD(std::uint32_t, piece_end,
                            "_ZNK13sentencepiece49ImmutableSentencePieceText_ImmutableSentencePiece3endEv",
                            (const void* self), (self))

}  // namespace ptlab_sentencepiece_forward
