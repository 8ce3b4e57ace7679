# `cmake --install` and CPack: the tools, the two libraries with their
# headers and a CMake package (find_package(Perpetua) gives Perpetua::
# targets), man pages generated from each tool's --help, bash completion,
# and a .deb whose dependencies are the "run" packages of scripts/packages.txt.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PERPETUA_TOOLS rl-collect rl-train rl-label rl-eval rl-goals rl-data rl-robot)
set(PERPETUA_INCLUDE_DIR ${CMAKE_INSTALL_INCLUDEDIR}/perpetua)
set(PERPETUA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Perpetua)

install(TARGETS ${PERPETUA_TOOLS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS perpetua_core perpetua_nn perpetua_tensorboard perpetua_tensorboard_proto perpetua_warnings
        EXPORT PerpetuaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${PERPETUA_INCLUDE_DIR})
# Headers keep their component folder ("data/dataset_writer.h"), as inside the project.
# (Not the question page's: its library is the rl-label tool's own.)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/ DESTINATION ${PERPETUA_INCLUDE_DIR} FILES_MATCHING PATTERN "*.h"
        PATTERN "label_server.h" EXCLUDE)
install(FILES ${CMAKE_BINARY_DIR}/generated/perpetua/version.h DESTINATION ${PERPETUA_INCLUDE_DIR}/perpetua)
install(EXPORT PerpetuaTargets NAMESPACE Perpetua:: DESTINATION ${PERPETUA_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/PerpetuaConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/generated/PerpetuaConfig.cmake
                              INSTALL_DESTINATION ${PERPETUA_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/generated/PerpetuaConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/generated/PerpetuaConfig.cmake
              ${CMAKE_BINARY_DIR}/generated/PerpetuaConfigVersion.cmake
        DESTINATION ${PERPETUA_CMAKE_DIR})

# The loop and its companions, run as installed (they find the tools on PATH).
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/loop.sh ${PROJECT_SOURCE_DIR}/scripts/nightly.sh
                 ${PROJECT_SOURCE_DIR}/scripts/vice_figure.sh ${PROJECT_SOURCE_DIR}/scripts/coverage_figure.sh
                 ${PROJECT_SOURCE_DIR}/scripts/robot_server.py
        DESTINATION ${CMAKE_INSTALL_DATADIR}/perpetua/scripts)
install(FILES ${PROJECT_SOURCE_DIR}/scripts/common.sh DESTINATION ${CMAKE_INSTALL_DATADIR}/perpetua/scripts)

# Man pages: help2man reads each tool's --help (and every verb's, scripts/man_page.sh).
find_program(HELP2MAN help2man)
if(HELP2MAN)
  set(pages)
  foreach(tool ${PERPETUA_TOOLS})
    set(page ${CMAKE_BINARY_DIR}/man/${tool}.1.gz)
    add_custom_command(OUTPUT ${page}
                       COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/man_page.sh $<TARGET_FILE:${tool}> ${page}
                               ${PROJECT_VERSION}
                       DEPENDS ${tool} ${PROJECT_SOURCE_DIR}/scripts/man_page.sh
                       COMMENT "man page of ${tool}" VERBATIM)
    list(APPEND pages ${page})
  endforeach()
  add_custom_target(perpetua_man ALL DEPENDS ${pages})
  install(FILES ${pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(WARNING "help2man not found (Debian: help2man): no man pages")
endif()

# Bash completion: one script, installed under every tool's name (bash-completion loads it by command).
foreach(tool ${PERPETUA_TOOLS})
  install(FILES ${PROJECT_SOURCE_DIR}/scripts/completion.bash
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME ${tool})
endforeach()

# The .deb: `cpack -G DEB` in the build folder.
file(STRINGS ${PROJECT_SOURCE_DIR}/scripts/packages.txt package_lines REGEX "^run:")
set(run_packages)
foreach(line ${package_lines})
  string(REGEX REPLACE "#.*$" "" line "${line}")
  string(REGEX REPLACE "^run:" "" line "${line}")
  separate_arguments(names UNIX_COMMAND "${line}")
  list(APPEND run_packages ${names})
endforeach()
list(JOIN run_packages ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME perpetua)
set(CPACK_PACKAGE_VENDOR "Perpetua")
set(CPACK_PACKAGE_CONTACT "Perpetua developers <perpetua@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "robots that learn by doing: collect, train, label, invent goals, evaluate")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
include(CPack)
