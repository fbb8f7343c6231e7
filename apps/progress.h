// Progress on stderr that suits where stderr goes.  On a terminal one line is redrawn in place;
// on a pipe or a file an update becomes a whole line, at most one every few seconds, so a log
// holds whole lines; with --quiet there is none.
#pragma once

namespace bcvk::apps {

void set_quiet(bool quiet);  // --quiet, set once from the command line

// printf-style progress text, replacing the previous update of the same task.
void progress(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Ends the task's progress before other stderr output: the terminal's line gets its newline; on
// a pipe or file the last update is written if it was held back.
void end_progress();

}  // namespace bcvk::apps
