"""The netns platform (network namespaces on this machine): its modules register the platform and its tasks
(:data:`cnibench.platforms.PLATFORMS`, :data:`cnibench.platforms.TASKS`)."""
