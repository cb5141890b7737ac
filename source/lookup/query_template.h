// QueryTemplate: the `query:` of SQL tables and the `filter:` of LDAP tables, with Postfix's
// expansions: %s the key, %u its local part (the whole key when it has no '@'), %d its domain,
// %% a percent sign. SQL backends never paste a key into SQL: each expansion becomes a
// placeholder and the value is bound as a parameter. LDAP has no parameters, so its filter
// gets the values escaped as RFC 4515 3 asks (\2a for '*', \28 \29 \5c \00).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::lookup {

class QueryTemplate {
 public:
  // `text` was checked by the config loader (only %s, %u, %d, %%; at least one expansion).
  explicit QueryTemplate(std::string_view text);

  enum class Placeholders { Question, Dollar };  // "?" (sqlite, mysql) or "$1", "$2" (pgsql)
  // The template with each expansion replaced by a placeholder, "%%" by "%".
  std::string sql(Placeholders style) const;
  // The values for those placeholders, in order, for `key`. nullopt when the template uses %d
  // and the key has no '@domain' (or an empty part is asked for): as Postfix, the table is not
  // queried and the answer is "not found".
  std::optional<std::vector<std::string>> values(std::string_view key) const;
  // The LDAP filter for `key` (values escaped), or nullopt as for values().
  std::optional<std::string> ldapFilter(std::string_view key) const;

 private:
  struct Part {
    char expansion = 0;  // 's', 'u', 'd', or 0 for literal text
    std::string text;
  };
  std::vector<Part> parts_;
};

}  // namespace petrel::lookup
