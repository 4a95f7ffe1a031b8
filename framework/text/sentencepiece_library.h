// libsentencepiece, loaded in isolation so that it cannot clash with LibTorch's protobuf.
//
// Why: Debian's libsentencepiece.so.0 (0.1.97) carries its own copy of protobuf-lite 3.14 and exports
// those symbols; Debian's LibTorch 1.13 (ptlab's first platform) pulled in libprotobuf.so.32 (protobuf
// 3.21), and the torch wheel's LibTorch carries a protobuf of its own. When both were linked into one executable, libprotobuf's static initialisers bind to sentencepiece's protobuf functions and the
// process crashes before main(). So ptlab never links libsentencepiece: sentencepiece_library.cpp
// dlopen()s it with RTLD_LOCAL (its symbols stay out of the global scope) and, when a libprotobuf is
// loaded, RTLD_DEEPBIND (so it binds to its own protobuf). It defines, under the library's mangled names,
// small forwarding functions for the few non-virtual members our code calls (constructors, Status,
// ImmutableSentencePieceText accessors); virtual members are called through the objects' vtables. Use
// <sentencepiece_processor.h> as usual, but never add libsentencepiece to a link line, and compile such
// code with -fno-sanitize=vptr (UBSan's vptr check would need the library's typeinfo at link time).
#pragma once

#include <string>

namespace ptlab::text {

/// False only in AddressSanitizer/ThreadSanitizer builds of a process that has a libprotobuf loaded (any
/// LibTorch process): those runtimes refuse RTLD_DEEPBIND, and without it the library would bind to the
/// wrong protobuf.
bool sentencepiece_supported();

/// Loads libsentencepiece once (thread-safe). A library that cannot be loaded (or a sanitizer build) is an
/// Error with the reason.
void load_sentencepiece_library();

/// Path the library was loaded from (after load_sentencepiece_library()).
const std::string& sentencepiece_library_path();

namespace detail {
/// Address of `mangled` in the loaded library (loads it first); a missing symbol is an InternalError.
void* sentencepiece_symbol(const char* mangled);
}  // namespace detail

}  // namespace ptlab::text
