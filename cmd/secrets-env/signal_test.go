package main

import "os/signal"

var signalNotify = signal.Notify
