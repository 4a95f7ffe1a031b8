// Unicode character properties and normalisation (via ICU), with the exact predicates that Hugging Face's
// Python tokenizers use.
//
// The reference tokenizers are Python code: `str.isspace()`, `str.lower()`, `unicodedata.category()`,
// `unicodedata.normalize()`. These helpers reproduce those on code points so that BERT's BasicTokenizer
// and the tokenizer.json normalisers give the same ids. ICU does the heavy lifting (tables for
// categories, case mapping and normal forms); we only choose which ICU call matches which Python call.
// ICU's Unicode version can be newer than the reference's Python (Unicode 14 for Python 3.11); the two
// differ only on characters assigned since, which no golden text contains.
#pragma once

#include <string>
#include <string_view>

namespace ptlab::text {

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };

/// `unicodedata.normalize(form, text)`. `text` must be well-formed UTF-8. ASCII text is returned as is.
std::string normalize(std::string_view text, NormalForm form);

/// The two-letter general category, as `unicodedata.category(chr(cp))`: "Lu", "Mn", "Zs", "Cc", ...
const char* general_category(char32_t cp);

/// True when the general category starts with `major` ('L', 'N', 'P', 'C', 'M', 'S', 'Z').
bool has_major_category(char32_t cp, char major);

/// Python's `str.isspace()` for one code point: bidirectional class WS, B or S, or category Zs
/// (so \t \n \v \f \r \x1c-\x1f, space, U+0085, U+00A0, U+2028, U+2029, U+3000, ...).
bool is_python_space(char32_t cp);

/// Python's `chr(cp).lower()`: the full (one-to-many) lower-case mapping of a single code point,
/// appended to `out` as UTF-8. U+0130 'İ' gives "i̇" (two code points), as in Python.
void append_python_lower(std::string& out, char32_t cp);

/// `text.lower()` applied code point by code point (no Final_Sigma context): what transformers' slow
/// tokenizers compute when they lower-case "(.+?)" matches one character at a time.
std::string python_lower(std::string_view text);

/// BERT's accent stripping: NFD, then drop every code point of category Mn.
std::string strip_accents(std::string_view text);

/// Python's `text.strip()` (strips is_python_space code points at both ends).
std::string_view python_strip(std::string_view text);

}  // namespace ptlab::text
