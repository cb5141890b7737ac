// The Sieve lexer and parser (RFC 5228 section 8): one pass over the text, tokens made on
// demand, a recursive descent whose depth is bounded by Limits::max_nesting (so a hostile
// script cannot exhaust the stack). The tree it builds is sieve/script.h's.
#include "petrel/sieve/script.h"

#include <fmt/format.h>

#include <optional>

namespace petrel::sieve {

std::string SyntaxError::message() const { return fmt::format("{}:{}: {}", at.line, at.column, what); }

namespace {

enum class Tok { End, Identifier, Tag, Number, String, Punct };

struct Token {
  Tok kind = Tok::End;
  Position at;
  std::string text;    // identifier/tag name (lower case), string value, or the punctuation
  uint64_t number = 0;
};

struct Failure {
  SyntaxError error;
};

// Shows an offending character in a message without putting control octets into logs.
std::string shown(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7f) {
    return fmt::format("\\x{:02x}", u);
  }
  return std::string(1, c);
}

bool identStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool identChar(char c) { return identStart(c) || (c >= '0' && c <= '9'); }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // The next token; a Failure is thrown only inside this file and caught by parseScript.
  Token next() {
    skipSpace();
    Token t;
    t.at = pos_;
    if (i_ >= text_.size()) {
      return t;
    }
    char c = text_[i_];
    if (identStart(c)) {
      std::string name;
      while (i_ < text_.size() && identChar(text_[i_])) {
        name += lower(text_[i_]);
        advance();
      }
      // RFC 5228 2.4.2: "text:" begins a multi-line string.
      if (name == "text" && i_ < text_.size() && text_[i_] == ':') {
        advance();
        t.kind = Tok::String;
        t.text = multiLine(t.at);
        return t;
      }
      t.kind = Tok::Identifier;
      t.text = std::move(name);
      return t;
    }
    if (c == ':') {
      advance();
      if (i_ >= text_.size() || !identStart(text_[i_])) {
        fail(t.at, "a tag needs a name after ':'");
      }
      t.kind = Tok::Tag;
      while (i_ < text_.size() && identChar(text_[i_])) {
        t.text += lower(text_[i_]);
        advance();
      }
      return t;
    }
    if (c >= '0' && c <= '9') {
      t.kind = Tok::Number;
      uint64_t v = 0;
      while (i_ < text_.size() && text_[i_] >= '0' && text_[i_] <= '9') {
        uint64_t d = static_cast<uint64_t>(text_[i_] - '0');
        if (v > (UINT64_MAX - d) / 10) {
          fail(t.at, "number too large");
        }
        v = v * 10 + d;
        advance();
      }
      // RFC 5228 2.4.1: quantifiers K, M, G (powers of 1024), either case.
      if (i_ < text_.size()) {
        char q = lower(text_[i_]);
        unsigned shift = q == 'k' ? 10 : q == 'm' ? 20 : q == 'g' ? 30 : 0;
        if (shift != 0) {
          if (v > (UINT64_MAX >> shift)) {
            fail(t.at, "number too large");
          }
          v <<= shift;
          advance();
        }
      }
      if (i_ < text_.size() && identChar(text_[i_])) {
        fail(pos_, fmt::format("unexpected '{}' after a number", shown(text_[i_])));
      }
      t.number = v;
      return t;
    }
    if (c == '"') {
      advance();
      t.kind = Tok::String;
      t.text = quoted(t.at);
      return t;
    }
    if (c == '[' || c == ']' || c == '(' || c == ')' || c == '{' || c == '}' || c == ',' ||
        c == ';') {
      advance();
      t.kind = Tok::Punct;
      t.text = std::string(1, c);
      return t;
    }
    fail(t.at, fmt::format("unexpected character '{}'", shown(c)));
  }

  [[noreturn]] static void fail(Position at, std::string what) {
    throw Failure{SyntaxError{at, std::move(what)}};
  }

 private:
  void advance() {
    if (text_[i_] == '\n') {
      ++pos_.line;
      pos_.column = 1;
    } else {
      ++pos_.column;
    }
    ++i_;
  }

  void skipSpace() {
    while (i_ < text_.size()) {
      char c = text_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        advance();
      } else if (c == '#') {
        while (i_ < text_.size() && text_[i_] != '\n') {
          advance();
        }
      } else if (c == '/' && i_ + 1 < text_.size() && text_[i_ + 1] == '*') {
        Position start = pos_;
        advance();
        advance();
        while (true) {
          if (i_ + 1 >= text_.size()) {
            fail(start, "unterminated bracket comment");
          }
          if (text_[i_] == '*' && text_[i_ + 1] == '/') {
            advance();
            advance();
            break;
          }
          advance();
        }
      } else {
        break;
      }
    }
  }

  // RFC 5228 2.4.2: "\\" and "\"" stand for themselves; any other escaped octet is kept
  // without its backslash (what Pigeonhole does, and the RFC leaves it undefined).
  std::string quoted(Position start) {
    std::string out;
    while (true) {
      if (i_ >= text_.size()) {
        fail(start, "unterminated string");
      }
      char c = text_[i_];
      if (c == '"') {
        advance();
        return out;
      }
      if (c == '\\') {
        advance();
        if (i_ >= text_.size()) {
          fail(start, "unterminated string");
        }
        c = text_[i_];
      }
      out += c;
      advance();
    }
  }

  // text: [spaces] (comment | CRLF) lines "." CRLF; a line starting with "." has it doubled.
  // Line ends come out as CRLF whatever the script used.
  std::string multiLine(Position start) {
    while (i_ < text_.size() && (text_[i_] == ' ' || text_[i_] == '\t')) {
      advance();
    }
    if (i_ < text_.size() && text_[i_] == '#') {
      while (i_ < text_.size() && text_[i_] != '\n') {
        advance();
      }
    }
    if (i_ < text_.size() && text_[i_] == '\r') {
      advance();
    }
    if (i_ >= text_.size() || text_[i_] != '\n') {
      fail(pos_, "text: must be followed by the end of the line");
    }
    advance();
    std::string out;
    while (true) {
      if (i_ >= text_.size()) {
        fail(start, "unterminated multi-line string (no line with a single '.')");
      }
      size_t eol = text_.find('\n', i_);
      std::string_view line = text_.substr(i_, eol == std::string_view::npos ? eol : eol - i_);
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
      }
      size_t consumed = (eol == std::string_view::npos ? text_.size() : eol + 1) - i_;
      for (size_t k = 0; k < consumed; ++k) {
        advance();
      }
      if (line == ".") {
        return out;
      }
      if (line.size() >= 2 && line[0] == '.' && line[1] == '.') {
        line.remove_prefix(1);
      }
      out += line;
      out += "\r\n";
    }
  }

  std::string_view text_;
  size_t i_ = 0;
  Position pos_;
};

class Parser {
 public:
  Parser(std::string_view text, const Limits& limits) : lex_(text), limits_(limits) {
    tok_ = lex_.next();
  }

  Script script() {
    Script s;
    while (tok_.kind != Tok::End) {
      if (isPunct("}")) {
        Lexer::fail(tok_.at, "'}' without a block to close");
      }
      s.commands.push_back(command(0));
    }
    return s;
  }

 private:
  bool isPunct(std::string_view p) const { return tok_.kind == Tok::Punct && tok_.text == p; }
  void shift() { tok_ = lex_.next(); }

  std::string describe() const {
    switch (tok_.kind) {
      case Tok::End: return "end of script";
      case Tok::Identifier: return fmt::format("identifier '{}'", tok_.text);
      case Tok::Tag: return fmt::format("tag ':{}'", tok_.text);
      case Tok::Number: return "number";
      case Tok::String: return "string";
      case Tok::Punct: return fmt::format("'{}'", tok_.text);
    }
    return "token";
  }

  void count(Position at, size_t depth) {
    if (++commands_ > limits_.max_commands) {
      Lexer::fail(at, fmt::format("more than {} commands and tests", limits_.max_commands));
    }
    if (depth > limits_.max_nesting) {
      Lexer::fail(at, fmt::format("nested deeper than {} levels", limits_.max_nesting));
    }
  }

  Command command(size_t depth) {
    if (tok_.kind != Tok::Identifier) {
      Lexer::fail(tok_.at, fmt::format("expected a command, found {}", describe()));
    }
    Command c;
    c.name = tok_.text;
    c.at = tok_.at;
    count(c.at, depth);
    shift();
    arguments(c.arguments, c.tests, depth);
    if (isPunct(";")) {
      shift();
      return c;
    }
    if (isPunct("{")) {
      shift();
      c.has_block = true;
      while (!isPunct("}")) {
        if (tok_.kind == Tok::End) {
          Lexer::fail(tok_.at, "expected '}' to end the block, found end of script");
        }
        c.block.push_back(command(depth + 1));
      }
      shift();
      return c;
    }
    Lexer::fail(tok_.at, fmt::format("expected ';' or a block after command '{}', found {}",
                                     c.name, describe()));
  }

  // argument* [test | test-list]
  void arguments(std::vector<ArgumentAt>& args, std::vector<Test>& tests, size_t depth) {
    while (true) {
      if (tok_.kind == Tok::Tag) {
        args.push_back({Tag{tok_.text}, tok_.at});
        shift();
      } else if (tok_.kind == Tok::Number) {
        args.push_back({tok_.number, tok_.at});
        shift();
      } else if (tok_.kind == Tok::String || isPunct("[")) {
        Position at = tok_.at;
        args.push_back({stringList(), at});
      } else {
        break;
      }
    }
    if (tok_.kind == Tok::Identifier) {
      tests.push_back(test(depth + 1));
    } else if (isPunct("(")) {
      shift();
      while (true) {
        tests.push_back(test(depth + 1));
        if (isPunct(",")) {
          shift();
          continue;
        }
        if (isPunct(")")) {
          shift();
          break;
        }
        Lexer::fail(tok_.at, fmt::format("expected ',' or ')' in a test list, found {}",
                                         describe()));
      }
    }
  }

  StringList stringList() {
    StringList l;
    if (tok_.kind == Tok::String) {
      l.values.push_back(std::move(tok_.text));
      shift();
      return l;
    }
    l.bracketed = true;
    shift();  // '['
    while (true) {
      if (tok_.kind != Tok::String) {
        Lexer::fail(tok_.at, fmt::format("expected a string in a string list, found {}",
                                         describe()));
      }
      l.values.push_back(std::move(tok_.text));
      shift();
      if (isPunct(",")) {
        shift();
        continue;
      }
      if (isPunct("]")) {
        shift();
        return l;
      }
      Lexer::fail(tok_.at, fmt::format("expected ',' or ']' in a string list, found {}",
                                       describe()));
    }
  }

  Test test(size_t depth) {
    if (tok_.kind != Tok::Identifier) {
      Lexer::fail(tok_.at, fmt::format("expected a test, found {}", describe()));
    }
    Test t;
    t.name = tok_.text;
    t.at = tok_.at;
    count(t.at, depth);
    shift();
    arguments(t.arguments, t.tests, depth);
    return t;
  }

  Lexer lex_;
  const Limits& limits_;
  Token tok_;
  size_t commands_ = 0;
};

}  // namespace

std::variant<Script, SyntaxError> parseScript(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_script_bytes) {
    return SyntaxError{{1, 1}, fmt::format("script larger than {} bytes", limits.max_script_bytes)};
  }
  try {
    Parser p(text, limits);
    return p.script();
  } catch (const Failure& f) {
    return f.error;
  }
}

}  // namespace petrel::sieve
