/* Sample app: says "sleeper started", then sleeps for the seconds given as its first
 * argument (default an hour) and says "sleeper done": a long-running task for the shim. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 3600;

	printf("sleeper started\n");
	fflush(stdout);
	for (int i = 0; i < seconds * 10; i++)
		usleep(100000);
	printf("sleeper done\n");
	return 0;
}
