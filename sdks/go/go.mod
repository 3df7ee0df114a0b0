module sanhu/sdks/go

go 1.18
