from sr.comp.cli.command_line import main

main()
