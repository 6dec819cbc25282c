# Writes OUT as `#define RT_GIT_DESCRIBE "<git describe --always --dirty>"` (the version VERSION where git
# or the repository is absent), rewriting it only when the text changes, so that a build recompiles
# what includes it only after a commit or a change of the dirty state. Run on every build of retrace.
execute_process(COMMAND git describe --always --dirty WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE describe OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT describe)
  set(describe "${VERSION}")
endif()
set(content "#define RT_GIT_DESCRIBE \"${describe}\"\n")
set(old "")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL content)
  file(WRITE ${OUT} "${content}")
endif()
