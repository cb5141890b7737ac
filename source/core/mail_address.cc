// MailAddress; see mail_address.h.
#include "petrel/core/mail_address.h"

#include "petrel/core/strings.h"

namespace petrel {

MailAddress::MailAddress(std::string_view text) : text_(text), at_(text_.rfind('@')) {}

std::optional<MailAddress> MailAddress::parse(std::string_view text) {
  MailAddress a(text);
  if (!a.hasDomain() || a.at_ == 0 || a.at_ + 1 == a.text_.size()) {
    return std::nullopt;
  }
  return a;
}

std::string_view MailAddress::local() const {
  return std::string_view(text_).substr(0, at_);  // npos: the whole text
}

std::string_view MailAddress::domain() const {
  return hasDomain() ? std::string_view(text_).substr(at_ + 1) : std::string_view();
}

std::string MailAddress::lowerDomain() const { return toLower(domain()); }

std::string MailAddress::key() const { return toLower(text_); }

size_t MailAddress::extensionStart(std::string_view delimiters) const {
  if (delimiters.empty()) {
    return std::string_view::npos;
  }
  size_t pos = local().find_first_of(delimiters);
  return pos == 0 ? std::string_view::npos : pos;
}

std::string_view MailAddress::localWithoutExtension(std::string_view delimiters) const {
  return local().substr(0, extensionStart(delimiters));
}

std::string_view MailAddress::extension(std::string_view delimiters) const {
  size_t pos = extensionStart(delimiters);
  return pos == std::string_view::npos ? std::string_view() : local().substr(pos + 1);
}

std::string MailAddress::withoutExtension(std::string_view delimiters) const {
  std::string out(localWithoutExtension(delimiters));
  if (hasDomain()) {
    out += '@';
    out += domain();
  }
  return out;
}

std::vector<std::string> MailAddress::parentDomains() const {
  std::string domain = lowerDomain();
  std::vector<std::string> out;
  for (size_t dot = domain.find('.'); dot != std::string::npos; dot = domain.find('.', dot + 1)) {
    out.push_back(domain.substr(dot));
  }
  return out;
}

}  // namespace petrel
