// Result<T>: the return type of every fallible call in Petrel.
//
// An Error carries a message and a class that decides what the caller does with it:
// temporary errors become 4xx replies or deferrals, permanent ones 5xx or bounces, config
// errors are reported at startup/reload. Exceptions never cross an event loop; this type does.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace petrel {

class Error {
 public:
  enum class Kind { Temporary, Permanent, Config };

  Error(Kind kind, std::string message) : kind_(kind), message_(std::move(message)) {}
  static Error temporary(std::string m) { return {Kind::Temporary, std::move(m)}; }
  static Error permanent(std::string m) { return {Kind::Permanent, std::move(m)}; }
  static Error config(std::string m) { return {Kind::Config, std::move(m)}; }

  Kind kind() const { return kind_; }
  bool temporary() const { return kind_ == Kind::Temporary; }
  const std::string& message() const { return message_; }

 private:
  Kind kind_;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  explicit operator bool() const { return v_.index() == 0; }
  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() { return std::get<0>(v_); }
  const T& operator*() const { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};
using Status = Result<Unit>;
inline Status okStatus() { return Unit{}; }

}  // namespace petrel
