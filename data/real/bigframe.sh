# bigframe.ko (data/experiments/bigframe): init calls a function with a 20000-byte local array,
# more than the whole 16 KiB stack and its 4 KiB guard page. The guest panics.
insmod bigframe/bigframe.ko
