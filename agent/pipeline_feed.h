#pragma once

// Connects the log pipeline's feed rules to the live feed: turns a matched
// event into a redacted feed event and publishes it.

#include "agent/feed.h"
#include "logs/pipeline.h"

namespace botwatch {

// A sink for LogPipeline that publishes into `hub` (which must outlive the
// pipeline), redacting with a salt chosen once per botwatch process.
FeedSink MakePipelineFeedSink(FeedHub* hub);

}  // namespace botwatch
