#pragma once

// Metrics that another program wrote in the Prometheus text format (an exec
// check's stdout, a textfile collector's *.prom file), made fit to serve as
// botwatch's own: validated strictly, with the clashes resolved the way
// Prometheus resolves them when it scrapes with honor_labels: false.

#include "prom/family.h"

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "prom/text_format.h"

namespace botwatch {

// Parses `text` and:
//  - refuses families whose name botwatch's own series use (`reserved_prefixes`
//    plus botwatch_collector_*), because merging them would corrupt ours;
//  - renames a `collector` label, which botwatch adds to every sample, to
//    `exported_collector` (`exported_exported_collector` if that is taken too),
//    as Prometheus does for a target label the scraped series already carries;
//  - gives families without HELP one, so /metrics stays promtool-clean.
// Errors read "line N: ..." or "family NAME ..."; a line error may quote the
// offending token: secrets in `limits.secrets` are redacted before any cut.
Result<std::vector<Family>> CarryTextFormat(std::string_view text, const std::vector<std::string>& reserved_prefixes,
                                            const std::string& default_help, const TextFormatLimits& limits = {});

}  // namespace botwatch
