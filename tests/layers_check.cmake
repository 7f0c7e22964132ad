# The layers read bottom-up, and no #include runs back up (docs/layers.md):
#   engine    include/mpilake/, src/          may include only the engine
#   pipelines pipelines/<name>/               the engine and its own pipeline
#   tools     tools/<name>/                   the engine, the pipelines and the tools
#   app       app/                            everything
# A header is placed by its folder under mpilake/: mpilake/<pipeline>/... is a pipeline's,
# mpilake/<tool>/... a tool's; an include that is no mpilake/ header and no system header
# (cli.hpp, "../..." paths) must be the including layer's own file.
#   cmake -DROOT=<source folder> -P layers_check.cmake             checks the tree
#   cmake -DSELF_TEST=ON -DWORK=<empty folder> -P layers_check.cmake  shows that it catches each kind
cmake_minimum_required(VERSION 3.25)

# Sets ${out} to the violations in the tree at `root`, one line each.
function(layer_violations root out)
  file(GLOB pipeline_dirs LIST_DIRECTORIES true ${root}/pipelines/*/include/mpilake/*)
  file(GLOB tool_dirs LIST_DIRECTORIES true ${root}/tools/*/include/mpilake/*)
  set(pipelines "")
  set(tools "")
  foreach(dir IN LISTS pipeline_dirs)
    get_filename_component(name ${dir} NAME)
    list(APPEND pipelines ${name})
  endforeach()
  foreach(dir IN LISTS tool_dirs)
    get_filename_component(name ${dir} NAME)
    list(APPEND tools ${name})
  endforeach()

  file(GLOB_RECURSE files ${root}/include/*.hpp ${root}/include/*.h ${root}/src/*.cpp ${root}/src/*.hpp
       ${root}/pipelines/*.cpp ${root}/pipelines/*.hpp ${root}/tools/*.cpp ${root}/tools/*.hpp
       ${root}/app/*.cpp ${root}/app/*.hpp)
  set(violations "")
  foreach(file IN LISTS files)
    file(RELATIVE_PATH relative ${root} ${file})
    if(relative MATCHES "^(include|src)/")
      set(layer engine)
      set(own "")
    elseif(relative MATCHES "^pipelines/([^/]+)/")
      set(layer pipeline)
      set(own ${CMAKE_MATCH_1})
    elseif(relative MATCHES "^tools/([^/]+)/")
      set(layer tool)
      set(own ${CMAKE_MATCH_1})
    else()
      set(layer app)
      set(own "")
    endif()
    if(layer STREQUAL "app")
      continue()
    endif()
    file(STRINGS ${file} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]*)\".*" "\\1" header "${line}")
      set(bad "")
      if(header MATCHES "^mpilake/([^/.]+)/")
        set(part ${CMAKE_MATCH_1})
        if(part IN_LIST pipelines AND (layer STREQUAL "engine" OR (layer STREQUAL "pipeline" AND NOT part STREQUAL own)))
          set(bad "the ${layer} includes pipeline '${part}'")
        elseif(part IN_LIST tools AND NOT layer STREQUAL "tool")
          set(bad "the ${layer} includes tool '${part}'")
        endif()
      elseif(header MATCHES "^mpilake/")
        # mpilake/version.hpp and the like: the engine's own top-level headers.
      elseif(header MATCHES "\\.\\./" OR header MATCHES "(^|/)cli\\.hpp$" OR header MATCHES "^(app|pipelines|tools)/")
        set(bad "the ${layer} includes '${header}' outside its folder (the app's or another layer's)")
      endif()
      if(bad)
        list(APPEND violations "${relative}: #include \"${header}\": ${bad}")
      endif()
    endforeach()
  endforeach()
  set(${out} "${violations}" PARENT_SCOPE)
endfunction()

if(SELF_TEST)
  # A tiny tree with one allowed include per layer and one of each kind that runs back up.
  file(REMOVE_RECURSE ${WORK})
  file(WRITE ${WORK}/include/mpilake/io/a.hpp "#include \"mpilake/table/table.hpp\"\n#include <vector>\n")
  file(WRITE ${WORK}/src/io/a.cpp "#include \"mpilake/p1/schema.hpp\"\n")
  file(WRITE ${WORK}/src/io/b.cpp "  #  include \"mpilake/t1/tool.hpp\"\n")
  file(WRITE ${WORK}/src/io/c.cpp "#include \"../../app/cli.hpp\"\n")
  file(WRITE ${WORK}/pipelines/p1/include/mpilake/p1/schema.hpp "#include \"mpilake/io/a.hpp\"\n")
  file(WRITE ${WORK}/pipelines/p1/src/s.cpp "#include \"mpilake/p1/schema.hpp\"\n#include \"mpilake/t1/tool.hpp\"\n")
  file(WRITE ${WORK}/pipelines/p2/include/mpilake/p2/other.hpp "#include \"mpilake/p1/schema.hpp\"\n")
  file(WRITE ${WORK}/tools/t1/include/mpilake/t1/tool.hpp "#include \"mpilake/p1/schema.hpp\"\n")
  file(WRITE ${WORK}/tools/t1/src/tool.cpp "#include \"mpilake/t1/tool.hpp\"\n#include \"cli.hpp\"\n")
  file(WRITE ${WORK}/app/main.cpp "#include \"cli.hpp\"\n#include \"mpilake/t1/tool.hpp\"\n#include \"mpilake/p1/schema.hpp\"\n")
  layer_violations(${WORK} found)
  set(expected "src/io/a.cpp: #include \"mpilake/p1/schema.hpp\": the engine includes pipeline 'p1'"
               "src/io/b.cpp: #include \"mpilake/t1/tool.hpp\": the engine includes tool 't1'"
               "src/io/c.cpp: #include \"../../app/cli.hpp\": the engine includes '../../app/cli.hpp' outside its folder (the app's or another layer's)"
               "pipelines/p1/src/s.cpp: #include \"mpilake/t1/tool.hpp\": the pipeline includes tool 't1'"
               "pipelines/p2/include/mpilake/p2/other.hpp: #include \"mpilake/p1/schema.hpp\": the pipeline includes pipeline 'p1'"
               "tools/t1/src/tool.cpp: #include \"cli.hpp\": the tool includes 'cli.hpp' outside its folder (the app's or another layer's)")
  list(SORT found)
  list(SORT expected)
  file(REMOVE_RECURSE ${WORK})
  if(NOT found STREQUAL expected)
    string(REPLACE ";" "\n  " found_lines "${found}")
    string(REPLACE ";" "\n  " expected_lines "${expected}")
    message(FATAL_ERROR "layers_check self-test: found\n  ${found_lines}\nexpected\n  ${expected_lines}")
  endif()
  message(STATUS "layers_check self-test: all 6 kinds of upward include caught, the allowed ones pass")
else()
  layer_violations(${ROOT} found)
  if(found)
    string(REPLACE ";" "\n  " lines "${found}")
    message(FATAL_ERROR "includes that run up the layers (docs/layers.md):\n  ${lines}")
  endif()
  message(STATUS "layers: no include runs from the engine into pipelines, tools or the app, nor up from a pipeline or tool")
endif()
