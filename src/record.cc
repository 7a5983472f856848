#include "recovery/record.h"

#include <algorithm>
#include <cstring>

#include "recovery/source.h"

namespace recovery {
namespace internal {

namespace {
constexpr size_t kMinBlock = 64 * 1024;
}

std::string_view Arena::Copy(std::string_view bytes, size_t padding) {
  const size_t need = bytes.size() + padding;
  while (current_ < blocks_.size() && blocks_[current_].size - offset_ < need) {
    ++current_;  // the tail of a block too small is wasted until Clear()
    offset_ = 0;
  }
  if (current_ == blocks_.size()) {
    Block block;
    block.size = std::max(kMinBlock, need);
    if (!blocks_.empty()) block.size = std::max(block.size, blocks_.back().size);
    block.data.reset(new char[block.size]);
    blocks_.push_back(std::move(block));
    offset_ = 0;
  }
  char* dst = blocks_[current_].data.get() + offset_;
  if (!bytes.empty()) std::memcpy(dst, bytes.data(), bytes.size());
  if (padding > 0) std::memset(dst + bytes.size(), 0, padding);
  offset_ += need;
  used_total_ += bytes.size();
  return std::string_view(dst, bytes.size());
}

void Arena::Clear() {
  current_ = 0;
  offset_ = 0;
  used_total_ = 0;
}

}  // namespace internal

void RecordBatch::Add(std::string_view key, absl::Time event_time, std::string_view payload,
                      bool maybe_redelivered) {
  Record r;
  r.key = arena_.Copy(key);
  r.payload = arena_.Copy(payload);
  r.event_time = event_time;
  r.maybe_redelivered = maybe_redelivered;
  records_.push_back(r);
}

void RecordBatch::MarkRedelivered() {
  for (Record& r : records_) r.maybe_redelivered = true;
}

void RecordBatch::Clear() {
  records_.clear();
  arena_.Clear();
}

void RawBatch::Add(std::string_view data, bool maybe_redelivered, std::string_view id) {
  RawRecord r;
  r.data = arena_.Copy(data, kRawRecordPadding);
  r.maybe_redelivered = maybe_redelivered;
  if (!id.empty()) r.id = arena_.Copy(id);
  records_.push_back(r);
}

void RawBatch::AddError(std::string_view data_prefix, std::string_view error, std::string_view id) {
  RawRecord r;
  r.data = arena_.Copy(data_prefix, kRawRecordPadding);
  r.error = arena_.Copy(error);
  if (!id.empty()) r.id = arena_.Copy(id);
  records_.push_back(r);
}

void RawBatch::Clear() {
  records_.clear();
  arena_.Clear();
}

void RawBatch::KeepFirst(size_t n) {
  if (n < records_.size()) records_.resize(n);
}

void RawBatch::DropFirst(size_t n) {
  records_.erase(records_.begin(), records_.begin() + static_cast<ptrdiff_t>(std::min(n, records_.size())));
}

}  // namespace recovery
