#pragma once

// The botwatch_process_* families of one sampled process. One definition for
// the `process` collector and for the child of supervise mode, so both export
// the same names, types and HELP text.

#include "collectors/collector.h"
#include "collectors/lib/procfs.h"

namespace botwatch {

// Memory, CPU, threads, start time and file descriptors of `sample`.
void AddProcessSampleFamilies(const ProcessSample& sample, FamilyBuilder& fb, const FamilyBuilder::Labels& labels = {});

// botwatch_process_restarts_total: how often the watched process came back
// as a new process.
void AddProcessRestartsFamily(double restarts, FamilyBuilder& fb, const FamilyBuilder::Labels& labels = {});

}  // namespace botwatch
