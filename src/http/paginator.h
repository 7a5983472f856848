// Paging styles of HTTP APIs, one class each behind one small interface: how a
// style's cursor is written and read back, which URL to request, and how a
// page moves the position on. The HTTP source's readers use them; they hold
// no state of their own, so one serves every shard.
#ifndef RECOVERY_HTTP_PAGINATOR_H_
#define RECOVERY_HTTP_PAGINATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "recovery/http_source.h"
#include "util/redact.h"

namespace recovery {

// Where a shard reader is; written into the checkpoint as the cursor.
struct PagePosition {
  int64_t page = 0;
  int64_t offset = 0;
  std::string token;                 // cursor, cursor_header: the token; link, next_url: the URL
  std::string after_time, after_id;  // keyset
  bool started = false;              // false before the first request
};

// What a parsed page offers its paginator.
class PageFacts {
 public:
  virtual ~PageFacts() = default;
  virtual int64_t count() const = 0;  // records on the page
  // The body's string or number at `pointer`, as text; false when there is none.
  virtual bool BodyText(const std::string& pointer, std::string* out) = 0;
  // The body's true or false at `pointer`; false when there is none.
  virtual bool BodyBool(const std::string& pointer, bool* out) = 0;
  // The last record's string or number at `pointer`; false when there is none.
  virtual bool LastRecordText(const std::string& pointer, std::string* out) = 0;
  virtual const std::string* Header(std::string_view name) const = 0;  // lower-case name
  virtual const std::string& url() const = 0;                          // the page's, after redirects
};

class Paginator {
 public:
  virtual ~Paginator() = default;

  // The position at the start of a shard.
  virtual PagePosition First() const { return PagePosition(); }
  // The position `cursor` (not empty) names. DataLoss naming the style when
  // it is not a cursor of this style (the pagination type was changed).
  virtual absl::StatusOr<PagePosition> Decode(std::string_view cursor) const;
  virtual std::string Encode(const PagePosition& p) const { return p.token; }
  // The position an operator names (`recovery state set`): a page number, an
  // offset, "TIME,ID" for keyset paging. InvalidArgument giving the form the
  // style takes; for a style whose next page only the server names, why none
  // can be set.
  virtual absl::StatusOr<PagePosition> FromOperator(std::string_view position) const;
  // The URL to request from `p` when the style follows the server's own
  // URLs; empty to render the configured template.
  virtual std::string RequestUrl(const PagePosition& p) const { return ""; }
  // The position after `page`, read from `at`; sets `*exhausted` when the
  // style proves that nothing follows (a short page alone proves nothing,
  // unless short_page_ends). Errors name what is wrong with the page.
  virtual absl::Status Advance(const PagePosition& at, PageFacts& page, PagePosition* next,
                               bool* exhausted) const = 0;
  // True for styles whose next position the server names (a token or a
  // URL): one it names twice would loop.
  virtual bool server_names_next() const { return false; }
  virtual std::string_view name() const = 0;
};

// The paginator for `options`. `page_size` is the {limit} requested;
// `credential_query_param` is left out of URLs kept in cursors; `redactor`
// (borrowed, outlives the paginator) hides secrets in messages.
std::unique_ptr<Paginator> NewPaginator(const HttpPagination& options, int64_t page_size,
                                        std::string credential_query_param, const Redactor* redactor);

// The cursor that starts a shard of `options`' style at the position an
// operator names (Paginator::FromOperator).
absl::StatusOr<std::string> CursorAtPosition(const HttpPagination& options, std::string_view position);

// The rel="next" target of an RFC 8288 Link header, or "".
std::string NextLink(std::string_view header);

}  // namespace recovery

#endif  // RECOVERY_HTTP_PAGINATOR_H_
