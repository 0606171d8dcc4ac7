#pragma once

// Gathers the /metrics families from memory only: collector snapshots, self
// metrics and any other collectable (the log pipeline's store). Families with
// the same name from different sources are merged, because the text format
// requires all samples of a family to follow its one HELP/TYPE header; the
// text itself is written by SerializeFamilies (prom/text_writer.h).

#include "prom/family.h"

#include <memory>
#include <string>
#include <vector>

#include "agent/snapshot_cache.h"
#include "collectors/lib/procfs.h"

namespace botwatch {

using Families = std::vector<Family>;

// botwatch_collector_* for every collector, then their type-specific families.
Families CollectorFamilies(const std::vector<std::shared_ptr<const CollectorSnapshot>>& snapshots);

// Standard process_* metrics of botwatch itself.
Families SelfProcessFamilies(const ProcFs& procfs);

// botwatch_state_write_errors_total{file}: failed writes to each file in
// state_dir, one series per file once a write to it failed.
Families StateWriteErrorFamilies();

// Appends `more` to `into`, merging families that share a name.
void MergeFamilies(Families& into, Families more);

}  // namespace botwatch
