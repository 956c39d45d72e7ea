"""The command line's commands, one module per command: each adds its own subparser (``add_command``)
and runs it (``run``). ``ganlab.__main__`` builds the parser from them and maps errors to exit statuses;
the quiz's commands live with the quiz (``ganlab.quiz.cli``)."""
