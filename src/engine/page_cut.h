// A run limited by JobSpec::max_records (`recovery run --limit N`, a canary)
// stops at exactly that many records, which may fall inside a page.
//
// The page is then cut: the raw records before the cut are mapped,
// delivered, dead-lettered and counted as a page of their own, and the
// checkpoint keeps the page's cursor with how many raw records of it were
// taken and a hash of their bytes (Checkpoint::page_taken). The next run
// fetches the page again and drops those records before mapping. When they
// do not come back the same (the API changed the page in between), it drops
// nothing and delivers the whole page flagged as possible redeliveries:
// nothing is lost, and every repeat is flagged.
//
// A queue's page (a receive) is never fetched again: there the records after
// the cut are simply not confirmed to the source, which hands them out again.
#ifndef RECOVERY_ENGINE_PAGE_CUT_H_
#define RECOVERY_ENGINE_PAGE_CUT_H_

#include "engine/engine.h"
#include "engine/page_mapper.h"
#include "recovery/mapper.h"
#include "recovery/source.h"

namespace recovery {

// Drops from the front of a freshly fetched `page` the raw records an
// earlier cut took (run.checkpoint.page_taken), when they are the same ones;
// sets run.dropped_in_page and run.dropped_hash. False when they were not
// the same: nothing was dropped, and the page's records must go flagged.
bool DropTaken(Engine& engine, ShardRun& run, Page* page);

enum class Cut {
  kWhole,    // the page goes whole
  kCut,      // cut to what the record limit allows
  kNothing,  // the limit allows none of its records: the shard stops before it
};

// Takes `mapped`'s records from the job's record limit and, when the limit
// grants fewer, cuts `page` and `mapped` after the last record granted.
// Records run.records_granted and, for a cut, run.taken_after and
// run.taken_hash_after.
Cut CutToLimit(Engine& engine, ShardRun& run, const JobWindow& job, Page* page, MappedPage* mapped);

// After the page committed: gives back to the limit what was granted and not
// delivered (records the destination already held, say), for other pages.
void ReturnUnused(Engine& engine, ShardRun& run, uint64_t delivered);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_PAGE_CUT_H_
