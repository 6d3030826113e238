# host.docs (cmake -P): Doxygen over the headers into OUT, with the project's
# Doxyfile; fails, listing them, when it warns (an undocumented public name, a
# documentation error).
#   -DDOXYGEN=<doxygen> -DDOXYFILE=<configured Doxyfile> -DOUT=<directory>
if(NOT DOXYGEN)
  message(FATAL_ERROR "uio: doxygen not found (scripts/bootstrap.sh installs Debian's doxygen)")
endif()
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
file(READ ${DOXYFILE} config)
# the same configuration, output and warnings in OUT
file(WRITE ${OUT}/Doxyfile "${config}\nOUTPUT_DIRECTORY = ${OUT}\nWARN_LOGFILE = ${OUT}/warnings.log\n"
     "GENERATE_MAN = NO\n")
execute_process(COMMAND ${DOXYGEN} ${OUT}/Doxyfile RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "uio: doxygen failed (${rc})")
endif()
file(STRINGS ${OUT}/warnings.log warnings)
list(LENGTH warnings n)
if(n GREATER 0)
  list(JOIN warnings "\n" text)
  message(FATAL_ERROR "uio: ${n} Doxygen warnings: every public name needs its comment\n${text}")
endif()
file(GLOB pages ${OUT}/html/*.html)
list(LENGTH pages n)
message("uio: reference documentation complete (${n} HTML pages, no warnings)")
