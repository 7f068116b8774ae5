# digits_grid_search --quick, serially and under MPIRUN with --mpi: the accuracy
# tables and the choice must be the same, character for character (timings aside).
#   cmake -DMPIRUN=... -DPROGRAM=... -DWORK_DIR=... -P compare_grid_search.cmake
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/serial ${WORK_DIR}/mpi)
execute_process(COMMAND ${PROGRAM} --quick ${WORK_DIR}/serial RESULT_VARIABLE serial_result OUTPUT_VARIABLE serial)
execute_process(COMMAND ${MPIRUN} ${PROGRAM} --quick --mpi ${WORK_DIR}/mpi TIMEOUT 200
                RESULT_VARIABLE mpi_result OUTPUT_VARIABLE mpi ERROR_VARIABLE mpi_errors)
message("---- under mpirun:\n${mpi}${mpi_errors}")
if(NOT serial_result EQUAL 0 OR NOT mpi_result EQUAL 0)
  message(FATAL_ERROR "a run failed: serial ${serial_result}, mpi ${mpi_result}")
endif()

# The tables and the choice: from the first table to the choice's line; then the
# comparison table without its time column.
function(results_of text out)
  string(FIND "${text}" "\ntrain accuracy" begin)
  string(FIND "${text}" "(the best test accuracy" end)
  if(begin EQUAL -1 OR end EQUAL -1)
    message(FATAL_ERROR "no accuracy tables in:\n${text}")
  endif()
  math(EXPR length "${end} - ${begin}")
  string(SUBSTRING "${text}" ${begin} ${length} tables)
  string(REGEX REPLACE "\n[0-9]+ runs in [0-9.]+ s\n" "\n" tables "${tables}")
  string(REGEX MATCHALL "\n(sigmoid|relu|elu) +[A-Za-z]+ +[a-z]+ +[0-9.]+ +[0-9.]+" others "${text}")
  set(${out} "${tables}${others}" PARENT_SCOPE)
endfunction()
results_of("${serial}" serial_tables)
results_of("${mpi}" mpi_tables)
if(NOT serial_tables STREQUAL mpi_tables)
  message(FATAL_ERROR "the tables differ.\n---- serial:\n${serial_tables}\n---- mpi:\n${mpi_tables}")
endif()
file(READ ${WORK_DIR}/serial/digits_grid_search.dat serial_dat)
file(READ ${WORK_DIR}/mpi/digits_grid_search.dat mpi_dat)
if(NOT serial_dat STREQUAL mpi_dat)
  message(FATAL_ERROR "the heatmaps' data (digits_grid_search.dat) differ")
endif()
message(STATUS "the same tables, choice and heatmap data from 1 process and from 2 ranks")
