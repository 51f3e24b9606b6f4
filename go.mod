module github.com/pmonitor/pmonitor

go 1.26
