// Content stages of the server; see content_stages.h.
#include "petrel/server/content_stages.h"

namespace petrel::server {

namespace {

class PrependFields final : public content::ContentStage {
 public:
  explicit PrependFields(std::vector<std::string> fields) : fields_(std::move(fields)) {}
  void onHeader(const std::vector<content::HeaderField>&, content::HeaderEdits& edits) override {
    for (std::string& f : fields_) edits.prepend.push_back(std::move(f));
  }

 private:
  std::vector<std::string> fields_;
};

}  // namespace

std::unique_ptr<content::ContentStage> prependFields(std::vector<std::string> fields) {
  return std::make_unique<PrependFields>(std::move(fields));
}

}  // namespace petrel::server
