/*
 * commands.h - the commands of the mlp program, one file each. Each takes
 * the arguments after the command name (argv[0] is the command) and
 * returns the program's exit code (util.h).
 */
#ifndef MLP_TOOL_COMMANDS_H
#define MLP_TOOL_COMMANDS_H

int mlp_cmd_info(int argc, char **argv);
int mlp_cmd_init(int argc, char **argv);
int mlp_cmd_run(int argc, char **argv);
int mlp_cmd_eval(int argc, char **argv);
#ifdef MLP_TOOL_HAVE_TRAIN
int mlp_cmd_train(int argc, char **argv);
#endif

#endif /* MLP_TOOL_COMMANDS_H */
