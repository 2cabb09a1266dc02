# hello-5 (LKMPG examples): module_param and module_param_array; a value that does not parse.
# Run from data/lkmpg: kcourse sim [--real] --transcript hello-5/script.sh
insmod hello-5/hello-5.ko mystring="bebop" myintarray=-1
dmesg -c
grep '^hello_5 ' /proc/modules
ls /sys/module/hello_5/parameters
cat /sys/module/hello_5/parameters/myshort
cat /sys/module/hello_5/parameters/myint
cat /sys/module/hello_5/parameters/mylong
echo 7 > /sys/module/hello_5/parameters/myshort
cat /sys/module/hello_5/parameters/myshort
rmmod hello_5
dmesg -c
insmod hello-5/hello-5.ko mystring="supercalifragilisticexpialidocious" myintarray=-1,-1
dmesg -c
rmmod hello_5
insmod hello-5/hello-5.ko mylong=hello
dmesg -c
