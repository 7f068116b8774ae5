# Runs PROGRAM under MPIRUN (a list) and checks that the job failed, within its
# time limit, and said which rank threw what.   cmake -DMPIRUN=... -DPROGRAM=... -P
execute_process(COMMAND ${MPIRUN} ${PROGRAM} TIMEOUT 30 RESULT_VARIABLE result
                OUTPUT_VARIABLE output ERROR_VARIABLE output)
message("${output}")
if(result MATCHES "timeout" OR result MATCHES "Process terminated")
  message(FATAL_ERROR "the job hung (${result}): the ranks waiting for the one that threw were not ended")
endif()
if(result EQUAL 0)
  message(FATAL_ERROR "the job succeeded although rank 1 threw")
endif()
if(NOT output MATCHES "rank 1: the data of rank 1 is missing \\(test\\)")
  message(FATAL_ERROR "the job failed (${result}) without the message 'rank 1: the data of rank 1 is missing (test)'")
endif()
message(STATUS "the job failed as it should (exit ${result}), with rank 1's message")
