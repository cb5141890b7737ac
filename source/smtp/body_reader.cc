// DATA and BDAT content framing; see body_reader.h for the smuggling rules.
#include "petrel/smtp/body_reader.h"

#include <cstring>

namespace petrel::smtp {

namespace {
// Writes `content` with every bare CR turned into CRLF (normalize mode).
void appendNormalized(BodySink& sink, std::string_view content) {
  size_t start = 0;
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '\r') {
      sink.append(content.substr(start, i - start));
      sink.append("\r\n");
      start = i + 1;
    }
  }
  sink.append(content.substr(start));
}
}  // namespace

ReadState DotReader::consume(std::string_view in, size_t& consumed) {
  size_t pos = 0;
  size_t run = 0;  // start of lines not yet passed to the sink (passed verbatim in one call)
  auto flush = [&](size_t upto) {
    if (upto > run && !line_too_long_) sink_->append(in.substr(run, upto - run));
    run = upto;
  };
  while (pos < in.size()) {
    const char* base = in.data() + pos;
    const char* nl = static_cast<const char*>(std::memchr(base, '\n', in.size() - pos));
    if (in_long_line_) {
      // Dropping the rest of an overlong line. Its line endings are still checked, so the
      // result does not depend on where the input was split, and a bare LF ending it is
      // still bare for the end-of-data rule below.
      for (; pos < in.size(); ++pos) {
        bool cr_before = long_line_cr_;
        long_line_cr_ = in[pos] == '\r';
        if (in[pos] != '\n' && !cr_before) continue;
        if (!checks_.normalize_bare && (in[pos] != '\n' || !cr_before)) {
          consumed = pos;
          return ReadState::BareLineEnding;
        }
        if (in[pos] == '\n') {
          after_crlf_ = cr_before;
          in_long_line_ = false;
          long_line_cr_ = false;
          ++pos;
          break;
        }
      }
      run = pos;
      continue;
    }
    if (nl == nullptr) {
      if (in.size() - pos > checks_.max_line) {
        std::string_view partial = in.substr(pos);
        size_t cr = partial.find('\r');
        if (!checks_.normalize_bare && cr != std::string_view::npos && cr + 1 < partial.size()) {
          // A CR not followed by LF (there is no LF here): as bare as in a complete line.
          flush(pos);
          consumed = pos;
          return ReadState::BareLineEnding;
        }
        flush(pos);
        line_too_long_ = true;
        in_long_line_ = true;
        long_line_cr_ = partial.back() == '\r';
        pos = in.size();
        run = pos;
      }
      break;
    }
    size_t end = size_t(nl - in.data()) + 1;  // one past '\n'
    std::string_view line = in.substr(pos, end - pos);
    bool crlf = line.size() >= 2 && line[line.size() - 2] == '\r';
    std::string_view content = line.substr(0, line.size() - (crlf ? 2 : 1));
    bool bare = !crlf || content.find('\r') != std::string_view::npos;
    if (bare && !checks_.normalize_bare) {
      flush(pos);
      consumed = pos;
      return ReadState::BareLineEnding;
    }
    // SMTP smuggling: only <CRLF>.<CRLF> ends the data. In normalize mode a "." line after a
    // bare line ending is content, like the bare "." line itself.
    if (crlf && content == "." && after_crlf_) {
      flush(pos);
      consumed = end;
      return ReadState::Done;
    }
    after_crlf_ = crlf;
    bool stuffed = content.size() > 1 && content.front() == '.';
    // The limit applies to the line as stored: without the stuffed dot (RFC 5321 4.5.3.1.6),
    // and a bare LF counts as the CRLF it is stored as (normalize mode), as in ChunkScanner.
    if (line.size() + (crlf ? 0 : 1) - (stuffed ? 1 : 0) > checks_.max_line) {
      flush(pos);
      line_too_long_ = true;
    }
    if (bare || stuffed) {
      flush(pos);
      if (stuffed) content.remove_prefix(1);
      if (!line_too_long_) {
        if (bare) {
          appendNormalized(*sink_, content);
          sink_->append("\r\n");
        } else {
          sink_->append(in.substr(pos + 1, end - pos - 1));
        }
      }
      run = end;
    }
    pos = end;
  }
  flush(pos);
  consumed = pos;
  return ReadState::NeedMore;
}

void ChunkScanner::feed(std::string_view in) {
  size_t run = 0;
  auto flush = [&](size_t upto) {
    if (upto > run) sink_->append(in.substr(run, upto - run));
    run = upto;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (prev_cr_) {
      prev_cr_ = false;
      if (c == '\n') {
        line_len_ = 0;
        continue;
      }
      bare_ = true;  // a CR not followed by LF
      if (checks_.normalize_bare) {
        flush(i);
        sink_->append("\n");
      }
      line_len_ = 0;
    }
    if (c == '\r') {
      prev_cr_ = true;
      continue;
    }
    if (c == '\n') {
      bare_ = true;
      if (checks_.normalize_bare) {
        flush(i);
        sink_->append("\r\n");
        run = i + 1;
      }
      line_len_ = 0;
      continue;
    }
    if (++line_len_ + 2 > checks_.max_line) line_too_long_ = true;
  }
  flush(in.size());
}

void ChunkScanner::finish() {
  if (prev_cr_) {
    prev_cr_ = false;
    bare_ = true;
    if (checks_.normalize_bare) sink_->append("\n");
  }
}

}  // namespace petrel::smtp
