// Package realrunner holds the tests that run the action where users run
// it: the image built by Docker from the Dockerfile (with BuildKit and with
// the classic builder), started the way GitHub's runner starts a container
// action, and the example workflows run by nektos/act, from the Dockerfile
// and from an image pinned by digest in a registry, against real OpenSSH
// servers.
//
// They need a Docker engine and run under CI=true, or with
// SOPS_DEPLOY_DOCKER_TESTS=1 (see internal/dockertest and the README's
// "Tests" section).
package realrunner
