// canonicalization.h: RFC 6376 3.4.1-3.4.4. The body state machine's state is per octet so that
// no chunk boundary can change the result; runs of plain line content pass through in one
// piece, and the output is hashed in blocks.
#include "petrel/dkim/canonicalization.h"

#include <array>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace petrel::dkim {

namespace {

bool isWsp(char c) { return c == ' ' || c == '\t'; }

// What an octet is to the body scan: 0 line content as it is, 1 SP (content as it is for
// relaxed when a content octet follows), 2 an octet that needs the careful path (CR; for
// relaxed also TAB). A table keeps the scan of a run at a load and a compare per octet.
using OctetClasses = std::array<uint8_t, 256>;
constexpr OctetClasses octetClasses(bool relaxed) {
  OctetClasses t{};
  t[static_cast<unsigned char>('\r')] = 2;
  if (relaxed) {
    t[static_cast<unsigned char>(' ')] = 1;
    t[static_cast<unsigned char>('\t')] = 2;
  }
  return t;
}
constexpr OctetClasses RelaxedClasses = octetClasses(true);
constexpr OctetClasses SimpleClasses = octetClasses(false);

// The scan of a run, 16 octets at a time (SSE2, part of every x86-64): from `at`, past every
// block of octets that the octet-by-octet scan would take into the run without ending it (no
// CR; for relaxed no TAB and no SP followed by SP, TAB or CR). Returns where that scan must
// go on; elsewhere it returns `at`. Most body text is such blocks, so the table scan below
// only sees the octets around line ends and runs of white space.
size_t skipPlainBlocks(const unsigned char* p, size_t at, size_t n, bool relaxed) {
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i sp = _mm_set1_epi8(' ');
  while (at + 17 <= n) {  // the block and the octet after it (for the last SP)
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
    __m128i bad = _mm_cmpeq_epi8(v, cr);
    if (relaxed) {
      __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at + 1));
      __m128i next_wsp = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(next, sp), _mm_cmpeq_epi8(next, tab)),
                                      _mm_cmpeq_epi8(next, cr));
      bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmpeq_epi8(v, tab),
                                           _mm_and_si128(_mm_cmpeq_epi8(v, sp), next_wsp)));
    }
    int mask = _mm_movemask_epi8(bad);
    if (mask != 0) return at + size_t(__builtin_ctz(static_cast<unsigned>(mask)));
    at += 16;
  }
#else
  (void)p;
  (void)n;
  (void)relaxed;
#endif
  return at;
}

constexpr size_t FlushSize = 16384;

}  // namespace

std::string_view canonName(Canon c) { return c == Canon::Simple ? "simple" : "relaxed"; }

std::string canonicalizeHeader(Canon c, std::string_view name, std::string_view raw) {
  if (c == Canon::Simple) return std::string(raw);
  std::string out;
  out.reserve(raw.size());
  while (!name.empty() && isWsp(name.back())) name.remove_suffix(1);
  for (char ch : name) out += (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch + 32) : ch;
  size_t colon = raw.find(':');
  std::string_view value = colon == std::string_view::npos ? std::string_view() : raw.substr(colon + 1);
  out += ':';
  // Unfold (drop CR and LF), collapse WSP runs to one SP, then trim both ends of the value
  // (3.4.2: whitespace before the colon goes with the name, after it is leading whitespace).
  bool wsp = false;
  bool started = false;
  for (char ch : value) {
    if (ch == '\r' || ch == '\n') continue;
    if (isWsp(ch)) {
      wsp = true;
      continue;
    }
    if (wsp && started) out += ' ';
    wsp = false;
    started = true;
    out += ch;
  }
  out += "\r\n";
  return out;
}

BodyHasher::BodyHasher(Canon canon, std::optional<uint64_t> limit) : canon_(canon), limit_(limit) {}

void BodyHasher::flushOut() {
  sha_.update(out_);
  out_.clear();
}

void BodyHasher::emit(std::string_view bytes) {
  std::string_view hashed = bytes;
  if (limit_) {
    uint64_t room = length_ < *limit_ ? *limit_ - length_ : 0;
    hashed = bytes.substr(0, room < bytes.size() ? room : bytes.size());
  }
  length_ += bytes.size();
  if (out_.size() + hashed.size() < FlushSize) {
    out_.append(hashed);
    return;
  }
  // A long run (feed() hands whole runs of line content over) goes to the hash as it is, so
  // out_ stays below FlushSize.
  flushOut();
  sha_.update(hashed);
}

void BodyHasher::flushEmptyLines() {
  for (; empty_lines_ > 0; --empty_lines_) emit("\r\n");
}

// An octet of line content (anything but the CRLF that ends the line).
void BodyHasher::content(char c) {
  if (canon_ == Canon::Relaxed && isWsp(c)) {
    pending_wsp_ = true;
    return;
  }
  if (at_line_start_) {
    flushEmptyLines();
    at_line_start_ = false;
  }
  if (pending_wsp_) {
    emitChar(' ');
    pending_wsp_ = false;
  }
  emitChar(c);
}

void BodyHasher::feed(std::string_view chunk) {
  // Octets that are line content as they are: anything but CR, and for relaxed but WSP.
  const OctetClasses& cls = canon_ == Canon::Relaxed ? RelaxedClasses : SimpleClasses;
  const auto* octets = reinterpret_cast<const unsigned char*>(chunk.data());
  auto plain = [&cls](char c) { return cls[static_cast<unsigned char>(c)] == 0; };
  for (size_t i = 0; i < chunk.size();) {
    char c = chunk[i];
    if (pending_cr_) {
      pending_cr_ = false;
      if (c == '\n') {
        // End of line. Relaxed drops the whitespace at its end; an empty line is held back.
        pending_wsp_ = false;
        if (at_line_start_) {
          ++empty_lines_;
        } else {
          emit("\r\n");
          at_line_start_ = true;
        }
        ++i;
        continue;
      }
      content('\r');  // a bare CR is content
    }
    if (c == '\r') {
      pending_cr_ = true;
      ++i;
      continue;
    }
    if (!plain(c)) {
      content(c);
      ++i;
      continue;
    }
    // A run of plain octets: the first through content() (held-back empty lines, a pending
    // space), the rest emitted in one piece, as octet by octet would give the same output.
    // For relaxed a single SP between two plain octets belongs to the run: it is canonical.
    size_t end = i + 1;
    const size_t n = chunk.size();
    end = skipPlainBlocks(octets, end, n, cls == RelaxedClasses);
    while (end < n) {
      uint8_t k = cls[octets[end]];
      if (k == 0) {
        ++end;
      } else if (k == 1 && end + 1 < n && cls[octets[end + 1]] == 0) {
        end += 2;
      } else {
        break;
      }
    }
    content(c);
    emit(chunk.substr(i + 1, end - i - 1));
    i = end;
  }
}

std::string BodyHasher::finish() {
  if (!finished_) {
    finished_ = true;
    if (pending_cr_) {
      pending_cr_ = false;
      content('\r');
    }
    pending_wsp_ = false;  // relaxed: whitespace at the end of the last line goes
    if (!at_line_start_) {
      emit("\r\n");  // a last line without CRLF gets one (3.4.3, 3.4.4)
    } else if (canon_ == Canon::Simple && length_ == 0) {
      emit("\r\n");  // simple: an empty body is one CRLF; relaxed: it stays empty
    }
    flushOut();
    digest_ = sha_.finish();
  }
  return digest_;
}

}  // namespace petrel::dkim
