#include "spec/secret_section.h"

#include "util/file.h"
#include "util/strings.h"

namespace recovery {

SecretRef ReadSecretSpec(SpecObject& o, std::string_view key, const std::string& base_dir) {
  SecretRef ref;
  ref.env = o.String(StrCat(key, "_env")).value_or("");
  ref.file = o.String(StrCat(key, "_file")).value_or("");
  ref.value = o.String(key).value_or("");
  const std::string cmd_key = StrCat(key, "_cmd");
  if (std::optional<simdjson::dom::array> argv = o.Array(cmd_key)) {
    for (simdjson::dom::element e : *argv) {
      std::string_view arg;
      if (e.get_string().get(arg) != simdjson::SUCCESS) {
        o.errors()->Add(o.PathOf(cmd_key), "expected an array of strings: the program and its arguments");
        ref.command.clear();
        break;
      }
      ref.command.emplace_back(arg);
    }
    if (argv->size() == 0) o.errors()->Add(o.PathOf(cmd_key), "expected the program and its arguments");
    if (!ref.command.empty() && ref.command[0].find('/') != std::string::npos) {
      ref.command[0] = ResolvePath(base_dir, ref.command[0]);
    }
  }
  if (auto timeout = o.Duration(StrCat(key, "_cmd_timeout"), false, absl::Milliseconds(1))) {
    ref.command_timeout = *timeout;
  }
  return ref;
}

int SecretWays(const SecretRef& ref) {
  return !ref.env.empty() + !ref.file.empty() + !ref.value.empty() + !ref.command.empty();
}

}  // namespace recovery
