// Tokenising one piece of a prompt on its own, with the spacing it has in the full text.
//
// A template renders its pieces (hard text, text fields, label words) separately, so that each piece's
// tokens are known and a field can be shortened token by token. Tokenising a piece alone must give the
// tokens it would have inside the whole text, and that depends on what precedes it:
//
//   Spacing     meaning                                  byte-level BPE      SentencePiece        WordPiece
//   kStart      nothing textual before it (start of the   text as is          text (dummy "▁")     text
//               sequence, after {bos}/{sep}/...)
//   kSpace      follows a word, one space in between      " " + text          text (dummy "▁")     text
//   kAttached   follows a word directly ("{text_a}?")     text as is          text, no "▁"         text
//
// Byte-level BPE (GPT-2, RoBERTa, Pythia) marks a word-initial space inside the token ("Ġwas"), so a piece
// that follows a word gets its space in front, as PET and LM-BFF do for RoBERTa/GPT-2 (" It was",
// " great"). SentencePiece (Llama 2, T5) puts "▁" in front of every encode call (the dummy prefix, which
// also stands for the separating space); an attached piece must not get it, so it is encoded behind a
// sentinel character that no merge crosses (U+E000, a private-use code point: byte-fallback or <unk>
// tokens) and the sentinel's tokens are dropped — the idea transformers' non-legacy Llama tokenizer uses
// with its unknown token. WordPiece splits at spaces and punctuation itself, so spacing changes nothing
// (a piece glued to a word, "{text_a}ing", is still tokenised as its own word).
// Special-token strings in the text ("[MASK]", "<s>") are matched as special tokens, as encode() does.
#pragma once

#include "framework/text/tokenizer.h"

#include <string_view>
#include <vector>

namespace ptlab::tasks {

enum class Spacing {
  kStart,     ///< no word before it: the start of the sequence, or right after a special token
  kSpace,     ///< after a word, separated from it by a space
  kAttached,  ///< after a word, with nothing in between
};

/// "start", "space", "attached".
const char* spacing_name(Spacing spacing);

/// Token ids of `text` (no special tokens added) as they appear after what `spacing` says. Empty text
/// gives no ids. Invalid UTF-8 is an Error (from the tokenizer).
std::vector<int> encode_piece(const text::Tokenizer& tokenizer, std::string_view text, Spacing spacing);

}  // namespace ptlab::tasks
