# Writes the man page mpilake(1) from the binary's own --help texts (top level and each command), so
# the page never drifts from the program. Run at build time:
#   cmake -DMPILAKE=path/to/mpilake -DVERSION=x.y.z -DOUTPUT=mpilake.1 -P mpilake_man.cmake
# (help2man would do the same; it is not in the build dependencies.)
function(roff_escape text out)
  string(REPLACE "\\" "\\e" text "${text}")
  # A line that starts with . or ' would be read as a request.
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

function(help_of out)
  execute_process(COMMAND ${MPILAKE} ${ARGN} OUTPUT_VARIABLE text ERROR_VARIABLE error RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mpilake ${ARGN} failed (${rc}): ${error}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

help_of(top --help)
roff_escape("${top}" top_roff)
set(page ".TH MPILAKE 1 \"\" \"mpilake ${VERSION}\" \"User Commands\"\n")
string(APPEND page ".SH NAME\nmpilake \\- MPI batch processor for lakehouse dumps\n")
string(APPEND page ".SH DESCRIPTION\n.nf\n${top_roff}.fi\n")
# The commands are the lines "  NAME  text" under "commands:".
string(REGEX MATCH "commands:\n(  [a-z]+ [^\n]*\n)+" block "${top}")
string(REGEX MATCHALL "\n  [a-z]+ " names "${block}")
string(APPEND page ".SH COMMANDS\n")
foreach(name IN LISTS names)
  string(STRIP "${name}" name)
  help_of(text ${name} --help)
  roff_escape("${text}" text)
  string(APPEND page ".SS mpilake ${name}\n.nf\n${text}.fi\n")
endforeach()
string(APPEND page ".SH FILES\n.TP\n.I PREFIX/share/mpilake/report/\n"
                   "the report generator (deloton_report.py) and its template, found next to the binary\n"
                   ".SH ENVIRONMENT\n.TP\n.B MPILAKE_REPORT_SCRIPT\nanother report generator\n"
                   ".TP\n.B MPILAKE_REPORT_PYTHON\nthe Python that runs it (default /usr/bin/python3)\n"
                   ".SH SEE ALSO\nmpirun(1); the documents in PREFIX/share/doc/mpilake/\n")
file(WRITE ${OUTPUT} "${page}")
