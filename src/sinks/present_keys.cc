#include "sinks/present_keys.h"

#include "absl/container/flat_hash_map.h"

namespace recovery {

void MarkPresentKeys(absl::Span<const Record> records, absl::Span<const std::string_view> keys,
                     PresenceAnswer* answer) {
  answer->present.assign(records.size(), false);
  absl::flat_hash_map<std::string_view, std::vector<size_t>> by_key;
  by_key.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) by_key[records[i].key].push_back(i);
  for (std::string_view k : keys) {
    auto it = by_key.find(k);
    if (it == by_key.end()) {
      answer->unasked.emplace_back(k);
      continue;
    }
    for (size_t i : it->second) answer->present[i] = true;
  }
}

}  // namespace recovery
