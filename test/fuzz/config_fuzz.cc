// libFuzzer target for the config loader: any bytes must give either a config or at least
// one error, every error must carry a position in the named file, and nothing may throw,
// hang or crash (yaml-cpp 0.7's LoadAll loops forever on some inputs; we must not use it).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "petrel/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto r = petrel::config::loadConfigFromString(text, "fuzz.yaml", "/tmp/petrel-fuzz-base");
  if (!r.config && r.errors.empty()) std::abort();
  if (r.config && !r.errors.empty()) std::abort();
  for (const auto& e : r.errors) {
    if (e.where.rfind("fuzz.yaml:", 0) != 0) std::abort();
  }
  return 0;
}
